// Strategy playground: the same first message and double-text, with the same timing,
// sent to four fresh threads, one per strategy, side by side.
//
// Each column has its own thread and its own websocket (/ws/threads/<id>/, frames
// documented in runs/ws/frames.py), so it sees exactly what the chat page would.
// The double-text goes `delay` seconds after the column's first run *starts*, not
// after the click: on a loaded server the four first runs may start at different
// times, and what the demonstration compares is "N seconds into the answer".
(function () {
  "use strict";

  // The demo agent's pace for these runs: at the default length (60 words) slow
  // enough that the double-text lands mid-answer at any delay the slider offers;
  // a short answer ends first, which shows that strategies only matter while the
  // agent is answering. Tests may set window.__doubletextConfig.
  const TOKEN_DELAY = 0.06;
  const ACTIVE = new Set(["pending", "running"]);
  const SVG = "http://www.w3.org/2000/svg";

  const $ = (id) => document.getElementById(id);
  const form = $("setup");
  const first = $("first");
  const second = $("second");
  const delay = $("delay");
  const delayValue = $("delay-value");
  const length = $("length");
  const runButton = $("run");
  const progress = $("progress");

  function seconds(ms) {
    return (ms / 1000).toFixed(1) + " s";
  }

  function textOf(content) {
    if (Array.isArray(content)) return content.map((p) => (typeof p === "string" ? p : p.text || "")).join("");
    return content || "";
  }

  function inputText(run) {
    const messages = ((run.kwargs || {}).input || {}).messages || [];
    return messages.length ? textOf(messages[messages.length - 1].content) : "";
  }

  function csrf() {
    const match = document.cookie.match(/csrftoken=([^;]+)/);
    return match ? match[1] : "";
  }

  async function createThread(strategy) {
    const response = await fetch("/threads", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ metadata: { playground: strategy } }),
    });
    if (response.status === 401 || response.status === 403) {
      location.assign("/accounts/login/?next=" + encodeURIComponent(location.pathname));
    }
    if (!response.ok) throw new Error(`Could not create a thread: HTTP ${response.status}`);
    return (await response.json()).thread_id;
  }

  // A wrench, drawn: an emoji would be an empty box without an emoji font.
  function toolIcon() {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "14");
    svg.setAttribute("height", "14");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("class", "icon");
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("d", "M21 7.5a5.5 5.5 0 0 1-7.6 5.1L6 20a2.1 2.1 0 0 1-3-3l7.4-7.4A5.5 5.5 0 0 1 17.5 2l-3.3 3.3 1.5 3 3 1.5z");
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", "currentColor");
    path.setAttribute("stroke-width", "2");
    path.setAttribute("stroke-linejoin", "round");
    svg.append(path);
    return svg;
  }

  // Every column is drawn on the same time scale, so bars can be compared across them.
  let scaleMs = 4000;

  class Column {
    constructor(node) {
      this.node = node;
      this.strategy = node.dataset.strategy;
      this.el = {
        state: node.querySelector(".state"),
        link: node.querySelector(".thread-link"),
        notices: node.querySelector(".notices"),
        messages: node.querySelector(".messages"),
        runs: node.querySelector(".runs"),
      };
      this.socket = null;
      this.reset();
    }

    reset() {
      if (this.socket) { this.socket.onclose = null; this.socket.close(); }
      clearTimeout(this.timer);
      this.socket = null;
      this.threadId = null;
      this.messages = [];           // the thread's state, as the server says it stands
      this.streams = new Map();     // message id -> {runId, text}
      this.interruptedIds = new Set();
      this.runs = new Map();        // run id -> {run, n, created, started, ended, status, by}
      this.stopping = [];           // runs stopped by the next run to be created
      this.refused = null;          // {at, detail}: the double-text, rejected
      this.failed = false;          // the double-text cannot be sent (rate limit)
      this.offline = false;         // the websocket closed before the end
      this.t0 = null;               // when the first message was sent
      this.secondAt = null;         // when the double-text was sent
      this.sentMark = null;         // {id, offset}: the answer's length then
      this.firstMessage = "";
      this.secondMessage = "";
      this.el.notices.replaceChildren();
      this.el.messages.replaceChildren();
      this.el.messages.setAttribute("aria-busy", "false");
      this.el.runs.replaceChildren();
      this.el.link.hidden = true;
      this.setState("not started");
    }

    setState(text) {
      this.el.state.textContent = text;
    }

    now() {
      return this.t0 === null ? 0 : performance.now() - this.t0;
    }

    // Done: the double-text was sent and answered (a run, or a refusal), and nothing is in flight.
    get done() {
      const settled = [...this.runs.values()].every((r) => !ACTIVE.has(r.status));
      if (this.offline) return true;
      if (this.failed) return settled;
      const answered = this.refused !== null || this.runs.size > 1;
      return this.secondAt !== null && answered && settled;
    }

    notice(text, kind) {
      const p = document.createElement("p");
      p.className = "notice " + (kind || "");
      p.textContent = text;
      this.el.notices.append(p);
    }

    open(threadId) {
      this.threadId = threadId;
      this.el.link.href = "/#" + threadId;
      this.el.link.hidden = false;
      this.el.link.setAttribute("aria-label", `open in the chat: the ${this.strategy} thread`);
      this.setState("connecting…");
      return new Promise((resolve, reject) => {
        const scheme = location.protocol === "https:" ? "wss" : "ws";
        const ws = new WebSocket(`${scheme}://${location.host}/ws/threads/${threadId}/`);
        this.socket = ws;
        let ready = false;
        ws.onmessage = (event) => {
          const frame = JSON.parse(event.data);
          this.handle(frame);
          if (frame.type === "state" && !ready) { ready = true; resolve(); }
          this.render();
          update();
        };
        ws.onclose = (event) => {
          if (!ready) reject(new Error(`The ${this.strategy} thread's websocket closed (${event.code}).`));
          else if (!this.done) {
            this.offline = true;  // nothing more will be heard of its runs here
            this.notice("The connection closed; open the thread in the chat to see the end.", "danger");
            this.setState("offline");
            update();
          }
        };
      });
    }

    send(content, strategy) {
      const config = window.__doubletextConfig ||
        { configurable: { token_delay: TOKEN_DELAY, reply_words: Number(length.value) } };
      this.socket.send(JSON.stringify({ type: "message", content, strategy, config }));
    }

    sendFirst(text, secondText, delayMs) {
      this.firstMessage = text;
      this.secondMessage = secondText;
      this.delayMs = delayMs;
      this.t0 = performance.now();
      this.setState("answering");
      // The thread is idle: the first message's strategy does not matter; enqueue is the default.
      this.send(text, "enqueue");
    }

    sendSecond() {
      if (this.secondAt !== null) return;
      this.secondAt = this.now();
      // Where the answer being written was when the double-text left: marked in it.
      for (const [id, stream] of this.streams) this.sentMark = { id, offset: stream.text.length };
      this.send(this.secondMessage, this.strategy);
      this.setState("double-texted");
      this.render();
    }

    runOf(payload) {
      let entry = this.runs.get(payload.run_id);
      if (!entry) {
        entry = { run: payload, n: this.runs.size + 1, created: this.now(), started: null,
          ended: null, status: payload.status, by: null, input: inputText(payload) };
        this.runs.set(payload.run_id, entry);
      }
      entry.run = payload;
      return entry;
    }

    label(entry) {
      return `#${entry.n}`;
    }

    handle(frame) {
      const h = this["on_" + frame.type];
      if (h) h.call(this, frame);
    }

    on_state(frame) {
      this.messages = frame.messages;
      for (const run of frame.runs) {
        const entry = this.runOf(run);
        entry.status = run.status;
      }
    }

    on_run(frame) {
      const entry = this.runOf(frame.run);
      const event = frame.event;
      if (event === "created") {
        entry.status = frame.run.status;
        for (const stopped of this.stopping) stopped.by = entry;
        this.stopping = [];
        // Runs this one just stopped are still "running" until their executor
        // stops them: they are not ahead of it.
        const ahead = [...this.runs.values()].filter((r) => r !== entry && r.by !== entry &&
          ACTIVE.has(r.status));
        if (ahead.length) {
          this.notice(`${this.label(entry)} queued: it starts when ${ahead.map((r) => this.label(r)).join(", ")} ends.`, "info");
        }
      } else if (event === "started") {
        entry.status = "running";
        entry.started = this.now();
        if (entry.n === 1 && this.secondAt === null) {
          clearTimeout(this.timer);
          this.timer = setTimeout(() => this.sendSecond(), this.delayMs);
        }
      } else if (event === "interrupting") {
        this.stopping.push(entry);
      } else if (event === "interrupted") {
        entry.status = "interrupted";
        entry.ended = this.now();
        if (frame.partial_message) {
          this.interruptedIds.add(frame.partial_message.id);
          this.upsert([frame.partial_message]);
        }
        this.dropStreams(frame.run.run_id);
        const by = entry.by ? ` by ${this.label(entry.by)}` : "";
        this.notice(`${this.label(entry)} interrupted${by}: its answer stops here, and what it had written is kept.`, "warning");
      } else if (event === "rolled_back") {
        entry.status = "rolled_back";
        entry.ended = this.now();
        this.stopping.push(entry);
        this.dropStreams(frame.run.run_id);
        this.notice(`${this.label(entry)} rolled back by the double-text: its question and answer are erased from the thread.`, "danger");
      } else if (event === "success" || event === "error") {
        entry.status = event;
        entry.ended = this.now();
        this.dropStreams(frame.run.run_id);
        if (event === "error") this.notice(`${this.label(entry)} failed: ${(frame.error || {}).message || "error"}`, "danger");
      }
    }

    on_token(frame) {
      const s = this.streams.get(frame.message_id) || { runId: frame.run_id, text: "" };
      if (s.count !== undefined && frame.index < s.count) return;
      s.text += frame.text;
      this.streams.set(frame.message_id, s);
    }

    on_partial(frame) {
      this.streams.set(frame.message_id, { runId: frame.run_id, text: frame.text, count: frame.count });
    }

    on_messages(frame) {
      this.upsert(frame.messages);
    }

    on_error(frame) {
      if (frame.error === "throttled") {
        // Not the strategy: this user created too many runs. The column stops here.
        this.failed = true;
        clearTimeout(this.timer);
        this.notice(`Not sent: ${frame.detail}`, "danger");
      } else if (frame.rejected) {
        this.refused = { at: this.now(), detail: frame.detail, code: frame.error };
        const status = frame.error === "thread_busy" ? "409 Conflict" : frame.error;
        this.notice(`${status}: the double-text was rejected, so “${frame.content || this.secondMessage}” was not sent. The first answer goes on.`, "warning");
      } else {
        this.notice(frame.detail || "Something went wrong.", "danger");
      }
    }

    upsert(messages) {
      for (const message of messages) {
        const at = this.messages.findIndex((m) => m.id === message.id);
        if (at >= 0) this.messages[at] = message; else this.messages.push(message);
        this.streams.delete(message.id);
      }
    }

    dropStreams(runId) {
      for (const [id, s] of this.streams) if (s.runId === runId) this.streams.delete(id);
    }

    // --- rendering ---------------------------------------------------------------

    markIn(id) {
      return this.sentMark && this.sentMark.id === id ? this.sentMark.offset : null;
    }

    items() {
      const items = [];
      const known = new Set();
      for (const m of this.messages) {
        known.add(m.id);
        items.push({ key: "m-" + m.id, kind: m.type, message: m, mark: this.markIn(m.id),
          interrupted: Boolean((m.response_metadata || {}).interrupted) || this.interruptedIds.has(m.id) });
      }
      for (const [id, s] of this.streams) {
        if (!known.has(id)) items.push({ key: "m-" + id, kind: "ai", streaming: true,
          mark: this.markIn(id), message: { id, type: "ai", content: s.text } });
      }
      // Runs waiting their turn: their message is sent but not in the thread yet.
      for (const entry of this.runs.values()) {
        if (entry.status === "pending" && entry.n > 1) {
          items.push({ key: "q-" + entry.run.run_id, kind: "human", queued: true,
            message: { type: "human", content: entry.input } });
        }
      }
      return items;
    }

    drawMessage(node, item) {
      const m = item.message;
      const signature = JSON.stringify([m.content, m.tool_calls, item.streaming, item.queued,
        item.interrupted, item.mark]);
      if (node.dataset.signature === signature) return;
      node.dataset.signature = signature;
      node.className = "message " + item.kind + (item.streaming ? " streaming" : "") +
        (item.queued ? " queued" : "") + (item.interrupted ? " interrupted" : "");
      node.replaceChildren();
      const role = document.createElement("div");
      role.className = "role";
      role.textContent = { human: "You", ai: "Agent", tool: "Tool" }[item.kind] || item.kind;
      node.append(role);
      if (item.kind === "tool") {
        const card = document.createElement("div");
        card.className = "tool-card";
        card.append(toolIcon(), ` ${m.name || "tool"} → ${textOf(m.content)}`);
        node.append(card);
        return;
      }
      for (const call of m.tool_calls || []) {
        const card = document.createElement("div");
        card.className = "tool-card call";
        const args = Object.entries(call.args || {}).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(", ");
        card.append(toolIcon(), ` ${call.name}(${args})`);
        node.append(card);
      }
      const text = textOf(m.content);
      if (text || item.streaming) {
        const body = document.createElement("div");
        body.className = "body";
        if (item.mark !== null && item.mark !== undefined && item.mark <= text.length) {
          // Its label is drawn by CSS and hidden from assistive technology: the
          // answer's text stays whole (to read, copy or search), and the notices
          // and the run timeline already say what the double-text did.
          const mark = document.createElement("span");
          mark.className = "sent-mark";
          mark.title = "the double-text was sent here";
          mark.setAttribute("aria-hidden", "true");
          body.append(text.slice(0, item.mark), mark, text.slice(item.mark));
        } else {
          body.textContent = text;
        }
        node.append(body);
      }
      const badge = item.queued ? "queued" : item.interrupted ? "interrupted" : null;
      if (badge) {
        const b = document.createElement("span");
        b.className = "badge";
        b.textContent = badge;
        node.append(b);
      }
    }

    renderMessages() {
      // Keyed: a node is updated in place, never redrawn, so the live region
      // announces new messages, not the whole conversation again.
      const items = this.items();
      const wanted = new Set(items.map((i) => i.key));
      const existing = new Map();
      for (const node of [...this.el.messages.children]) {
        if (!wanted.has(node.dataset.key)) node.remove();
        else existing.set(node.dataset.key, node);
      }
      let previous = null;
      for (const item of items) {
        let node = existing.get(item.key);
        if (!node) {
          node = document.createElement("article");
          node.dataset.key = item.key;
        }
        this.drawMessage(node, item);
        const anchor = previous ? previous.nextSibling : this.el.messages.firstChild;
        if (node !== anchor) this.el.messages.insertBefore(node, anchor);
        previous = node;
      }
      if (!items.length && this.t0 === null) {
        const p = document.createElement("p");
        p.className = "empty";
        p.textContent = "Nothing sent yet.";
        this.el.messages.append(p);
      }
      // While an answer streams, assistive technology waits for it to finish
      // instead of reading every word as it arrives.
      this.el.messages.setAttribute("aria-busy", this.streams.size ? "true" : "false");
    }

    bar(track, from, to, kind) {
      const span = document.createElement("span");
      span.className = "segment " + kind;
      span.style.left = (100 * from / scaleMs).toFixed(2) + "%";
      span.style.width = Math.max(0.8, 100 * (to - from) / scaleMs).toFixed(2) + "%";
      track.append(span);
    }

    renderRuns() {
      const list = this.el.runs;
      list.replaceChildren();
      const now = this.now();
      const rows = [...this.runs.values()].map((entry) => ({ at: entry.created, entry }));
      if (this.refused) rows.push({ at: this.refused.at, refused: this.refused });
      rows.sort((a, b) => a.at - b.at);
      for (const row of rows) {
        const li = document.createElement("li");
        const head = document.createElement("div");
        head.className = "head";
        const what = document.createElement("div");
        what.className = "text";
        const track = document.createElement("div");
        track.className = "track";
        track.setAttribute("aria-hidden", "true");
        if (row.refused) {
          li.className = "run refused";
          head.innerHTML = '<strong>—</strong> <span class="status">rejected</span> <span class="strategy"></span> <span class="when"></span>';
          head.querySelector(".strategy").textContent = this.strategy;
          head.querySelector(".when").textContent = "at " + seconds(row.at);
          what.textContent = `“${this.secondMessage}”: 409, not sent`;
          this.bar(track, row.at, row.at, "refused");
        } else {
          const e = row.entry;
          const status = e.status === "rolled_back" ? "rolled back" : e.status === "pending" ? "queued" : e.status;
          li.className = "run " + e.status.replace("_", "-");
          head.innerHTML = '<strong></strong> <span class="status"></span> <span class="strategy"></span> <span class="when"></span>';
          head.querySelector("strong").textContent = this.label(e);
          head.querySelector(".status").textContent = status;
          head.querySelector(".strategy").textContent = e.run.multitask_strategy;
          const end = e.ended !== null ? e.ended : now;
          head.querySelector(".when").textContent = e.started !== null
            ? `${seconds(e.started)}–${e.ended !== null ? seconds(e.ended) : "…"}` : "";
          what.textContent = `“${e.input}”`;
          if (e.by) {
            const by = document.createElement("div");
            by.className = "by";
            by.textContent = `${status} by ${this.label(e.by)} (${e.by.run.multitask_strategy})`;
            li.append(by);
          }
          const begun = e.started !== null ? e.started : end;
          if (begun > e.created) this.bar(track, e.created, begun, "waiting");
          if (e.started !== null) this.bar(track, e.started, end, e.status.replace("_", "-"));
        }
        if (this.secondAt !== null) {
          const mark = document.createElement("span");
          mark.className = "mark";
          mark.style.left = (100 * this.secondAt / scaleMs).toFixed(2) + "%";
          track.append(mark);
        }
        li.prepend(head, what);
        li.append(track);
        list.append(li);
      }
    }

    render() {
      this.renderMessages();
      this.renderRuns();
      if (this.done) {
        const kept = this.messages.length;
        this.setState(`done · ${kept} message${kept === 1 ? "" : "s"} kept`);
      }
    }
  }

  const columns = [...document.querySelectorAll(".column")].map((node) => new Column(node));
  let running = false;
  let ticker = null;

  function update() {
    const longest = Math.max(0, ...columns.map((c) => Math.max(c.now(), ...[...c.runs.values()].map((r) => r.ended || 0))));
    if (running) scaleMs = Math.max(4000, Math.ceil((longest + 500) / 1000) * 1000);
    if (running && columns.every((c) => c.done)) finish();
  }

  function finish() {
    running = false;
    clearInterval(ticker);
    for (const c of columns) c.render();
    runButton.disabled = false;
    runButton.textContent = "Send again";
    progress.textContent = "Done. Compare the columns: the conversation each strategy left, and its runs.";
  }

  delay.addEventListener("input", () => {
    delayValue.textContent = Number(delay.value).toFixed(1) + " s";
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (running) return;
    const a = first.value.trim();
    const b = second.value.trim();
    if (!a || !b) return;
    running = true;
    runButton.disabled = true;
    scaleMs = 4000;
    progress.textContent = "Creating four threads…";
    try {
      for (const c of columns) c.reset();
      const ids = await Promise.all(columns.map((c) => createThread(c.strategy)));
      await Promise.all(columns.map((c, i) => c.open(ids[i])));
      progress.textContent = `Sent the first message to all four; the double-text follows ${Number(delay.value).toFixed(1)} s into each answer.`;
      for (const c of columns) c.sendFirst(a, b, Number(delay.value) * 1000);
      ticker = setInterval(() => { update(); for (const c of columns) c.renderRuns(); }, 200);
      for (const c of columns) c.render();
    } catch (error) {
      running = false;
      clearInterval(ticker);
      runButton.disabled = false;
      progress.textContent = error.message;
    }
  });
})();

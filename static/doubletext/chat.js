// Doubletext chat page: one websocket per thread, the REST API for the thread list.
// The page keeps a small model (messages in the thread state, tokens streaming,
// runs waiting in the queue) and reconciles the DOM with it, keyed by message id,
// so a rollback can animate away exactly what the rolled-back run had shown.
(function () {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const el = {
    threads: $("threads"), newThread: $("new-thread"), title: $("thread-title"),
    connection: $("connection"), status: $("thread-status"), notice: $("notice"),
    messages: $("messages"), typing: $("typing"), composer: $("composer"), input: $("input"),
    strategy: $("strategy"), stop: $("stop"), stopAction: $("stop-action"), runs: $("runs"),
  };

  let socket = null;
  let threadId = null;
  let reconnectDelay = 500;
  let model = emptyModel();

  function emptyModel() {
    return {
      messages: [],          // the thread's state (LangChain message dicts)
      streams: new Map(),    // message id -> {runId, text}: answers being streamed
      pending: new Map(),    // run id -> {text, queued}: sent, not yet in the state
      runs: new Map(),       // run id -> run dict (the timeline)
      interruptedIds: new Set(),
    };
  }

  // --- rendering -------------------------------------------------------------------

  function markdown(text) {
    return DOMPurify.sanitize(marked.parse(text || ""));
  }

  function textOf(content) {
    if (Array.isArray(content)) return content.map((p) => p.text || "").join("");
    return content || "";
  }

  function isInterrupted(message) {
    const meta = message.response_metadata || {};
    return Boolean(meta.interrupted) || model.interruptedIds.has(message.id);
  }

  function messageItems() {
    const items = [];
    const known = new Set();
    for (const m of model.messages) {
      known.add(m.id);
      items.push({ key: "m-" + m.id, kind: m.type, message: m });
    }
    for (const [id, s] of model.streams) {
      if (!known.has(id)) items.push({ key: "m-" + id, kind: "ai", streaming: true,
        message: { id, type: "ai", content: s.text, tool_calls: [] } });
    }
    for (const [runId, p] of model.pending) {
      items.push({ key: "p-" + runId, kind: "human", pending: p,
        message: { id: "p-" + runId, type: "human", content: p.text } });
    }
    return items;
  }

  function renderBody(node, item) {
    const m = item.message;
    const signature = JSON.stringify([m.content, m.tool_calls, item.streaming, item.pending,
      isInterrupted(m)]);
    if (node.dataset.signature === signature) return;
    node.dataset.signature = signature;
    node.className = "message " + item.kind;
    if (item.streaming) node.classList.add("streaming");
    if (item.pending) node.classList.add(item.pending.queued ? "queued" : "sending");
    if (isInterrupted(m)) node.classList.add("interrupted");
    node.replaceChildren();
    const role = document.createElement("div");
    role.className = "role";
    role.textContent = { human: "You", ai: "Agent", tool: "Tool" }[item.kind] || item.kind;
    node.append(role);
    if (item.kind === "tool") {
      const card = document.createElement("div");
      card.className = "tool-card";
      card.textContent = `${m.name || "tool"} → ${textOf(m.content)}`;
      node.append(card);
      return;
    }
    for (const call of m.tool_calls || []) {
      const card = document.createElement("div");
      card.className = "tool-card call";
      card.textContent = `🔧 ${call.name}(${Object.entries(call.args || {})
        .map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(", ")})`;
      node.append(card);
    }
    const text = textOf(m.content);
    if (text || item.streaming) {
      const body = document.createElement("div");
      body.className = "body";
      if (item.kind === "ai") body.innerHTML = markdown(text);
      else body.textContent = text;
      node.append(body);
    }
    const badge = item.pending ? (item.pending.queued ? "queued" : "sending…")
      : isInterrupted(m) ? "interrupted" : null;
    if (badge) {
      const b = document.createElement("span");
      b.className = "badge";
      b.textContent = badge;
      node.append(b);
    }
  }

  function render() {
    const items = messageItems();
    const wanted = new Set(items.map((i) => i.key));
    const existing = new Map();
    for (const node of el.messages.children) {
      existing.set(node.dataset.key, node);
      if (!wanted.has(node.dataset.key) && !node.classList.contains("removing")) {
        // Rolled back (or replaced): animate it away, then drop it.
        node.classList.add("removing");
        node.dataset.removing = "1";
        setTimeout(() => node.remove(), 450);
      }
    }
    let previous = null;
    for (const item of items) {
      let node = existing.get(item.key);
      if (!node || node.dataset.removing) {
        node = document.createElement("article");
        node.dataset.key = item.key;
      }
      renderBody(node, item);
      const anchor = previous ? previous.nextSibling : el.messages.firstChild;
      if (node !== anchor) el.messages.insertBefore(node, anchor);
      previous = node;
    }
    const active = [...model.runs.values()].some((r) => r.status === "running");
    el.typing.hidden = !active;
    el.stop.disabled = ![...model.runs.values()].some(
      (r) => r.status === "running" || r.status === "pending");
    el.status.textContent = active ? "busy" : "idle";
    el.messages.scrollTop = el.messages.scrollHeight;
    renderRuns();
  }

  function duration(run) {
    if (!run.started_at) return "";
    const end = run.ended_at ? new Date(run.ended_at) : new Date();
    return ((end - new Date(run.started_at)) / 1000).toFixed(1) + " s";
  }

  function renderRuns() {
    el.runs.replaceChildren();
    for (const run of model.runs.values()) {
      const li = document.createElement("li");
      li.className = "run " + run.status;
      const input = ((run.kwargs || {}).input || {}).messages || [];
      const text = input.length ? textOf(input[0].content) : "";
      li.innerHTML = '<span class="status"></span> <span class="strategy"></span> ' +
        '<span class="duration"></span><div class="text"></div>';
      li.querySelector(".status").textContent = run.status.replace("_", " ");
      li.querySelector(".strategy").textContent = run.multitask_strategy;
      li.querySelector(".duration").textContent = duration(run);
      li.querySelector(".text").textContent = text.slice(0, 60);
      el.runs.append(li);
    }
  }

  function notify(text, kind) {
    el.notice.textContent = text;
    el.notice.className = "notice " + (kind || "");
    el.notice.hidden = false;
    clearTimeout(notify.timer);
    notify.timer = setTimeout(() => { el.notice.hidden = true; }, 6000);
  }

  // --- frames from the server ---------------------------------------------------------

  function upsertMessages(messages) {
    for (const message of messages) {
      const at = model.messages.findIndex((m) => m.id === message.id);
      if (at >= 0) model.messages[at] = message; else model.messages.push(message);
      model.streams.delete(message.id);
    }
  }

  function runInput(run) {
    const input = ((run.kwargs || {}).input || {}).messages || [];
    return input.length ? textOf(input[input.length - 1].content) : "";
  }

  const handlers = {
    state(frame) {
      const active = new Set(frame.runs.filter((r) => r.status === "running" ||
        r.status === "pending").map((r) => r.run_id));
      model.messages = frame.messages;
      model.runs = new Map(frame.runs.map((r) => [r.run_id, r]));
      for (const [id, s] of model.streams) if (!active.has(s.runId)) model.streams.delete(id);
      for (const runId of model.pending.keys()) if (!active.has(runId)) model.pending.delete(runId);
      for (const run of frame.runs) {
        if (run.status === "pending" && !model.pending.has(run.run_id)) {
          model.pending.set(run.run_id, { text: runInput(run), queued: true });
        }
      }
    },
    run(frame) {
      const run = frame.run;
      if (frame.event === "rolled_back") {
        model.runs.delete(run.run_id);
        model.pending.delete(run.run_id);
        for (const [id, s] of model.streams) if (s.runId === run.run_id) model.streams.delete(id);
        return;
      }
      model.runs.set(run.run_id, run);
      if (frame.event === "created") {
        const busy = [...model.runs.values()].some((r) => r.run_id !== run.run_id &&
          (r.status === "running" || r.status === "pending"));
        model.pending.set(run.run_id, { text: runInput(run), queued: busy });
      } else if (frame.event === "started") {
        const p = model.pending.get(run.run_id);
        if (p) p.queued = false;
      } else if (frame.event === "interrupted") {
        model.pending.delete(run.run_id);
        if (frame.partial_message) {
          model.interruptedIds.add(frame.partial_message.id);
          upsertMessages([frame.partial_message]);
        }
        for (const [id, s] of model.streams) if (s.runId === run.run_id) model.streams.delete(id);
      } else if (frame.event === "success" || frame.event === "error") {
        model.pending.delete(run.run_id);
        for (const [id, s] of model.streams) if (s.runId === run.run_id) model.streams.delete(id);
        if (frame.event === "error") notify("The run failed: " + ((frame.error || {}).message || "error"), "error");
      }
    },
    token(frame) {
      const s = model.streams.get(frame.message_id) || { runId: frame.run_id, text: "" };
      if (s.count !== undefined && frame.index < s.count) return;  // already in the snapshot
      s.text += frame.text;
      model.streams.set(frame.message_id, s);
    },
    partial(frame) {
      // What streamed before this page attached; it includes any token frame
      // that reached us before it.
      model.streams.set(frame.message_id,
        { runId: frame.run_id, text: frame.text, count: frame.count });
    },
    messages(frame) {
      if (frame.node === "__input__") model.pending.delete(frame.run_id);
      upsertMessages(frame.messages);
    },
    error(frame) {
      if (frame.rejected) {
        notify(frame.error === "throttled"
          ? `${frame.detail} Your message is kept.`
          : "Rejected: the agent is still answering (strategy “reject”). Your message is kept — send it again when it is done, or pick another strategy.", "warning");
        if (!el.input.value && frame.content) el.input.value = frame.content;
      } else {
        notify(frame.detail || "Something went wrong.", "error");
      }
    },
    pong() {},
  };

  // --- connection ---------------------------------------------------------------------

  function connect(id) {
    if (socket) { socket.onclose = null; socket.close(); }
    threadId = id;
    model = emptyModel();
    el.messages.replaceChildren();
    render();
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws/threads/${id}/`);
    socket = ws;
    el.connection.textContent = "connecting…";
    ws.onopen = () => { el.connection.textContent = "live"; reconnectDelay = 500; };
    ws.onmessage = (event) => {
      const frame = JSON.parse(event.data);
      (handlers[frame.type] || (() => {}))(frame);
      render();
      if (frame.type === "run" && frame.event === "created") loadThreads();
    };
    ws.onclose = (event) => {
      el.connection.textContent = "offline — reconnecting";
      if (event.code === 4401) { signIn(); return; }
      if (event.code === 4404) { notify("This thread does not exist.", "error"); return; }
      setTimeout(() => { if (threadId === id) connect(id); }, reconnectDelay);
      reconnectDelay = Math.min(reconnectDelay * 2, 8000);
    };
  }

  function send(frame) {
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      notify("Not connected yet; try again in a moment.", "error");
      return false;
    }
    socket.send(JSON.stringify(frame));
    return true;
  }

  el.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const content = el.input.value.trim();
    if (!content) return;
    const frame = { type: "message", content, strategy: el.strategy.value };
    // Optional per-run agent config (demos and tests slow the demo agent down with it).
    if (window.__doubletextConfig) frame.config = window.__doubletextConfig;
    if (send(frame)) el.input.value = "";
  });
  el.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      el.composer.requestSubmit();
    }
  });
  el.stop.addEventListener("click", () => send({ type: "cancel", action: el.stopAction.value }));

  // --- threads (REST API) ---------------------------------------------------------------

  function csrf() {
    const match = document.cookie.match(/csrftoken=([^;]+)/);
    return match ? match[1] : "";
  }

  function signIn() {
    location.assign("/accounts/login/?next=" + encodeURIComponent(location.pathname + location.hash));
  }

  async function api(path, body) {
    const response = await fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify(body || {}),
    });
    if (response.status === 401) signIn();
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
    return response.json();
  }

  async function loadThreads() {
    const threads = await api("/threads/search", { limit: 50 });
    el.threads.replaceChildren();
    for (const t of threads) {
      const a = document.createElement("a");
      a.href = "#" + t.thread_id;
      a.className = "thread" + (t.thread_id === threadId ? " current" : "");
      const first = ((t.values || {}).messages || []).find((m) => m.type === "human");
      a.textContent = first ? textOf(first.content).slice(0, 40) : "New thread";
      a.title = t.thread_id;
      el.threads.append(a);
    }
    return threads;
  }

  async function openFromHash() {
    const id = location.hash.slice(1);
    if (!id) {
      const threads = await loadThreads();
      location.hash = threads.length ? threads[0].thread_id : (await api("/threads")).thread_id;
      return;
    }
    if (id !== threadId) connect(id);  // sets the connection pill to "connecting…" at once
    el.title.textContent = "Thread " + id.slice(0, 8);
    loadThreads();
  }

  el.newThread.addEventListener("click", async () => {
    location.hash = (await api("/threads")).thread_id;
  });
  window.addEventListener("hashchange", openFromHash);
  setInterval(() => { if (!el.typing.hidden) renderRuns(); }, 500);
  openFromHash().catch((error) => notify(error.message, "error"));
})();

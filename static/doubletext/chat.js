// Doubletext chat page: one websocket per thread, the REST API for the thread list,
// the assistants and the thread's history (branches, run steps).
// The page keeps a small model (messages in the thread state, tokens streaming,
// runs waiting in the queue) and reconciles the DOM with it, keyed by message id,
// so a rollback can animate away exactly what the rolled-back run had shown.
(function () {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const el = {
    threads: $("threads"), newThread: $("new-thread"), title: $("thread-title"),
    assistant: $("assistant"), graph: $("thread-graph"),
    connection: $("connection"), status: $("thread-status"), notice: $("notice"),
    announcer: $("announcer"), branchBar: $("branch-bar"),
    messages: $("messages"), typing: $("typing"), composer: $("composer"), input: $("input"),
    strategy: $("strategy"), stop: $("stop"), stopAction: $("stop-action"), runs: $("runs"),
    interrupt: $("interrupt"), interruptValue: $("interrupt-value"),
    approve: $("approve"), decline: $("decline"), answerForm: $("answer-form"), answer: $("answer"),
    toggleThreads: $("toggle-threads"), toggleRuns: $("toggle-runs"),
    sidebar: $("sidebar"), timeline: $("timeline"),
  };

  // Inline SVG, so icons need no emoji font (a box without one). Static markup.
  const ICONS = {
    tool: '<svg class="icon" viewBox="0 0 24 24" width="14" height="14" aria-hidden="true" focusable="false">' +
      '<path fill="currentColor" d="M22.7 19.3 13.6 10.2c.9-2.3.4-5-1.5-6.9-2-2-5-2.4-7.4-1.3l4.3 4.3-3 3-4.4-4.3C.4 7.4.9 10.4 2.9 12.4c1.9 1.9 4.6 2.4 6.9 1.5l9.1 9.1c.4.4 1 .4 1.4 0l2.3-2.3c.5-.4.5-1.1.1-1.4z"/></svg>',
  };

  let socket = null;
  let threadId = null;
  let reconnectDelay = 500;
  let model = emptyModel();
  let history = emptyHistory();
  let view = null;           // checkpoint id of the branch shown when it is not the thread's head
  let editing = null;        // id of the message being edited
  const expanded = new Set();  // run ids whose timeline entry is open
  let assistants = [];
  // Set when the next render replaces the conversation rather than erases part
  // of it (a branch switch, a fork starting): nothing fades out then.
  let swapping = false;

  function emptyModel() {
    return {
      messages: [],          // the thread's state (LangChain message dicts)
      streams: new Map(),    // message id -> {runId, text}: answers being streamed
      pending: new Map(),    // run id -> {text, queued, ids}: sent, not yet in the state
      runs: new Map(),       // run id -> timeline entry (rolled-back runs included)
      interruptedIds: new Set(),
      interrupts: [],        // what the thread waits for an answer to (interrupt())
      assistantId: null,
      graphId: null,
    };
  }

  function emptyHistory() {
    return { byId: new Map(), children: new Map(), head: null };
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

  function inFlight() {
    return [...model.runs.values()].some((r) => r.status === "running" || r.status === "pending");
  }

  // The checkpoints from the root to `id`.
  function pathTo(id) {
    const path = [];
    for (let s = history.byId.get(id); s; s = history.byId.get(s.parent_checkpoint_id)) path.unshift(s);
    return path;
  }

  function messagesOf(s) {
    const messages = ((s && s.values) || {}).messages;
    return Array.isArray(messages) ? messages : [];
  }

  // The newest checkpoint at or under `s`: where a branch stands now.
  function leafUnder(s) {
    let best = s;
    const stack = [s];
    while (stack.length) {
      const node = stack.pop();
      if (node.created_at > best.created_at) best = node;
      stack.push(...(history.children.get(node.checkpoint_id) || []));
    }
    return best;
  }

  // For each message on the path shown: where it first appears, the checkpoint a
  // fork must start from to replace it, and the branches that start there (a fork
  // is a checkpoint with several children, the message the first one after it).
  function branchInfo(path) {
    const info = new Map();
    path.forEach((s, at) => {
      messagesOf(s).forEach((m, index) => {
        if (info.has(m.id) || at === 0) return;
        const before = path[at - 1];
        const entry = { index, forkFrom: before.checkpoint_id, options: [], current: 0 };
        for (let k = at - 1; k >= 0 && messagesOf(path[k]).length === index; k--) {
          const children = history.children.get(path[k].checkpoint_id) || [];
          if (children.length > 1) {
            entry.options = children;
            entry.current = children.findIndex((c) => c.checkpoint_id === path[k + 1].checkpoint_id);
            break;
          }
        }
        info.set(m.id, entry);
      });
    });
    return info;
  }

  function shownPath() {
    const leaf = view || (history.head && history.head.checkpoint_id);
    return leaf ? pathTo(leaf) : [];
  }

  function messageItems() {
    const items = [];
    const known = new Set();
    const shown = view ? messagesOf(history.byId.get(view)) : model.messages;
    for (const m of shown) {
      known.add(m.id);
      items.push({ key: "m-" + m.id, kind: m.type, message: m });
    }
    if (view) return items;  // a past branch: nothing of it streams
    for (const [id, s] of model.streams) {
      if (!known.has(id)) items.push({ key: "m-" + id, kind: "ai", streaming: true,
        message: { id, type: "ai", content: s.text, tool_calls: [] } });
    }
    for (const [runId, p] of model.pending) {
      // Once its input is in the thread, the message itself stands for it.
      if (p.ids.some((id) => known.has(id))) continue;
      items.push({ key: "p-" + runId, kind: "human", pending: p,
        message: { id: "p-" + runId, type: "human", content: p.text } });
    }
    return items;
  }

  function button(text, className, onClick, label) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = className;
    b.textContent = text;
    if (label) b.setAttribute("aria-label", label);
    b.addEventListener("click", onClick);
    return b;
  }

  function toolCard(call) {
    const card = document.createElement("div");
    card.className = "tool-card call";
    card.innerHTML = ICONS.tool;
    const code = document.createElement("code");
    code.textContent = `${call.name}(${Object.entries(call.args || {})
      .map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(", ")})`;
    card.append(" ", code);
    return card;
  }

  function renderActions(node, item, meta) {
    if (!meta || item.streaming || item.pending) return;
    const bar = document.createElement("div");
    bar.className = "actions";
    const busy = inFlight();
    if (meta.options.length > 1) {
      const switcher = document.createElement("span");
      switcher.className = "branches";
      const n = meta.options.length;
      const go = (k) => () => showBranch(meta.options[k]);
      const prev = button("‹", "branch-prev", go(meta.current - 1), "Previous branch");
      const next = button("›", "branch-next", go(meta.current + 1), "Next branch");
      prev.disabled = meta.current <= 0;
      next.disabled = meta.current >= n - 1;
      const where = document.createElement("span");
      where.className = "branch-index";
      where.textContent = `${meta.current + 1}/${n}`;
      switcher.append(prev, where, next);
      bar.append(switcher);
    }
    if (item.kind === "human") {
      const edit = button("Edit", "edit", () => { editing = item.message.id; render(); }, "Edit this message");
      edit.disabled = busy;
      bar.append(edit);
    } else if (item.kind === "ai" && !(item.message.tool_calls || []).length) {
      const again = button("Regenerate", "regenerate", () => regenerate(meta), "Regenerate this answer");
      again.disabled = busy;
      bar.append(again);
    }
    if (bar.childElementCount) node.append(bar);
  }

  function renderEditor(node, item, meta) {
    const form = document.createElement("form");
    form.className = "editor";
    const area = document.createElement("textarea");
    area.value = textOf(item.message.content);
    area.rows = 2;
    area.setAttribute("aria-label", "Edited message");
    const save = document.createElement("button");
    save.type = "submit";
    save.className = "primary";
    save.textContent = "Send edit";
    form.append(area, save, button("Cancel", "cancel-edit", () => { editing = null; render(); }));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const content = area.value.trim();
      if (!content) return;
      if (sendMessage({ content, checkpoint_id: meta.forkFrom })) { editing = null; view = null; }
    });
    area.addEventListener("keydown", (event) => {
      if (event.key === "Escape") { editing = null; render(); }
    });
    node.append(form);
    setTimeout(() => area.focus(), 0);
  }

  function renderBody(node, item, meta) {
    const m = item.message;
    const isEditing = editing === m.id && meta;
    const signature = JSON.stringify([m.content, m.tool_calls, item.streaming, item.pending,
      isInterrupted(m), meta && [meta.options.length, meta.current], isEditing, inFlight()]);
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
    for (const call of m.tool_calls || []) node.append(toolCard(call));
    if (isEditing) { renderEditor(node, item, meta); return; }
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
    renderActions(node, item, meta);
  }

  function render() {
    const items = messageItems();
    const info = branchInfo(shownPath());
    const wanted = new Set(items.map((i) => i.key));
    const existing = new Map();
    for (const node of [...el.messages.children]) {
      existing.set(node.dataset.key, node);
      if (!wanted.has(node.dataset.key) && swapping) {
        node.remove();
      } else if (!wanted.has(node.dataset.key) && !node.dataset.removing) {
        // Rolled back (or replaced): it fades where it stood, then goes.
        node.classList.add("removing");
        node.dataset.removing = "1";
        node.setAttribute("aria-hidden", "true");
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
      renderBody(node, item, info.get(item.message.id));
      // What is fading out keeps its place: what comes after it goes after it.
      let anchor = previous ? previous.nextSibling : el.messages.firstChild;
      while (anchor && anchor !== node && anchor.dataset.removing) anchor = anchor.nextSibling;
      if (node !== anchor) el.messages.insertBefore(node, anchor);
      previous = node;
    }
    swapping = false;
    const active = [...model.runs.values()].some((r) => r.status === "running");
    el.typing.hidden = !active;
    el.stop.disabled = !inFlight();
    el.status.textContent = active ? "busy" : model.interrupts.length ? "waiting for you" : "idle";
    el.messages.scrollTop = el.messages.scrollHeight;
    renderBranchBar();
    renderInterrupt();
    renderRuns();
  }

  function renderBranchBar() {
    el.branchBar.hidden = !view;
    if (view) {
      el.branchBar.querySelector("span").textContent =
        "You are looking at an earlier branch. A message sent now continues from here.";
    }
  }

  // --- human in the loop -----------------------------------------------------------

  function renderInterrupt() {
    const waiting = model.interrupts.length > 0 && !inFlight() && !view;
    el.interrupt.hidden = !waiting;
    if (!waiting) return;
    const signature = JSON.stringify(model.interrupts);
    if (el.interrupt.dataset.signature === signature) return;
    el.interrupt.dataset.signature = signature;
    el.interruptValue.replaceChildren();
    for (const pending of model.interrupts) {
      const value = pending.value;
      const block = document.createElement("div");
      block.className = "interrupt-item";
      if (value && typeof value === "object" && !Array.isArray(value)) {
        const { question, tool_calls: calls, ...rest } = value;
        if (question) {
          const q = document.createElement("p");
          q.className = "question";
          q.textContent = String(question);
          block.append(q);
        }
        for (const call of Array.isArray(calls) ? calls : []) block.append(toolCard(call));
        if (Object.keys(rest).length) {
          const pre = document.createElement("pre");
          pre.textContent = JSON.stringify(rest, null, 2);
          block.append(pre);
        }
      } else {
        const q = document.createElement("p");
        q.className = "question";
        q.textContent = typeof value === "string" ? value : JSON.stringify(value);
        block.append(q);
      }
      el.interruptValue.append(block);
    }
    announce("The agent is waiting for your answer.");
  }

  function resume(value) {
    if (sendMessage({ command: { resume: value } })) {
      el.answer.value = "";
      model.interrupts = [];
      render();
    }
  }

  el.approve.addEventListener("click", () => resume("yes"));
  el.decline.addEventListener("click", () => resume("no"));
  el.answerForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = el.answer.value.trim();
    if (value) resume(value);
  });

  // --- branches ------------------------------------------------------------------------

  function showBranch(child) {
    const leaf = leafUnder(child);
    view = history.head && leaf.checkpoint_id === history.head.checkpoint_id ? null : leaf.checkpoint_id;
    editing = null;
    swapping = true;
    render();
  }

  function regenerate(meta) {
    if (sendMessage({ input: null, checkpoint_id: meta.forkFrom })) view = null;
  }

  async function loadHistory() {
    const id = threadId;
    let states;
    try {
      states = await api(`/threads/${id}/history`, { limit: 1000 });
    } catch (error) {
      return;  // a thread without a graph yet, or offline: no branches to show
    }
    if (id !== threadId) return;
    const fresh = emptyHistory();
    for (const s of states) fresh.byId.set(s.checkpoint.checkpoint_id, s);
    for (const s of states) {
      if (!s.parent_checkpoint_id) continue;
      const children = fresh.children.get(s.parent_checkpoint_id) || [];
      children.push(s);
      fresh.children.set(s.parent_checkpoint_id, children);
    }
    for (const children of fresh.children.values()) {
      children.sort((a, b) => (a.created_at < b.created_at ? -1 : 1));
    }
    fresh.head = states[0] || null;
    history = fresh;
    // Settled: the thread's head is the truth (after a fork it is another branch).
    if (!inFlight() && fresh.head) {
      model.messages = [...messagesOf(fresh.head)];
      swapping = true;
    }
    if (view && !history.byId.has(view)) view = null;
    render();
  }

  // --- the run timeline --------------------------------------------------------------

  function duration(run) {
    if (!run.started_at) return "";
    const end = run.ended_at ? new Date(run.ended_at) : new Date();
    return ((end - new Date(run.started_at)) / 1000).toFixed(1) + " s";
  }

  function runLabel(runId) {
    const run = model.runs.get(runId);
    if (!run) return "a later run";
    const text = runInput(run);
    return `#${run.seq}` + (text ? ` “${text.slice(0, 30)}”` : "");
  }

  // What a run's creation did to the runs before it, from what they record.
  function effects(run) {
    const done = [];
    for (const other of model.runs.values()) {
      if (other.rolled_back_by === run.run_id) done.push(`rolled back ${runLabel(other.run_id)}`);
      if (other.cancelled_by === run.run_id) done.push(`interrupted ${runLabel(other.run_id)}`);
    }
    if (done.length) return done.join("; ");
    const before = [...model.runs.values()].filter((r) => r.seq < run.seq && r.status !== "rolled_back");
    const last = before[before.length - 1];
    if (run.multitask_strategy === "enqueue" && last &&
        (!last.ended_at || (run.created_at && last.ended_at > run.created_at))) {
      return `queued behind ${runLabel(last.run_id)}`;
    }
    return "nothing: no run was in flight";
  }

  // What a step added to the conversation, in a few words.
  function stepSummary(added) {
    return added.map((m) => {
      if (m.type === "human") return `message “${textOf(m.content).slice(0, 30)}”`;
      if (m.type === "tool") return `${m.name || "tool"} result`;
      if ((m.tool_calls || []).length) return "called " + m.tool_calls.map((c) => c.name).join(", ");
      return (m.response_metadata || {}).interrupted ? "partial answer (interrupted)" : "answer";
    }).join(", ");
  }

  // A run's checkpoints, oldest first: the step, the node that ran (what the
  // checkpoint before it had next), and what it added.
  function steps(run) {
    const found = [];
    for (const s of history.byId.values()) {
      if ((s.metadata || {}).run_id === run.run_id) found.push(s);
    }
    found.sort((a, b) => (a.metadata.step || 0) - (b.metadata.step || 0));
    return found.map((s) => {
      const parent = history.byId.get(s.parent_checkpoint_id);
      const ran = s.metadata.source === "input" ? "input"
        : ((parent && parent.next) || []).map((n) => (n === "__start__" ? "start" : n)).join(", ") ||
          s.metadata.source;
      const before = new Set(messagesOf(parent).map((m) => m.id));
      const summary = stepSummary(messagesOf(s).filter((m) => !before.has(m.id)));
      return `step ${s.metadata.step} · ${ran}` + (summary ? ` · ${summary}` : "");
    });
  }

  // The checkpoint a run forked from (an edit, a regenerate), if it did.
  function forkOf(run) {
    return (((run.kwargs || {}).config || {}).configurable || {}).checkpoint_id || null;
  }

  function renderRuns() {
    // Rebuilt only when something shown changed, so keyboard focus stays put while tokens stream.
    const signature = JSON.stringify([[...model.runs.values()], [...expanded], history.byId.size,
      model.interrupts.length]);
    if (el.runs.dataset.signature === signature) return;
    el.runs.dataset.signature = signature;
    // A run that ends rebuilds the list: keyboard focus on an entry stays on it.
    const focused = el.runs.contains(document.activeElement) ?
      document.activeElement.closest("[data-run-id]") : null;
    el.runs.replaceChildren();
    for (const run of model.runs.values()) {
      const li = document.createElement("li");
      li.className = "run " + run.status;
      li.dataset.runId = run.run_id;
      const open = expanded.has(run.run_id);
      const head = document.createElement("button");
      head.type = "button";
      head.className = "run-head";
      head.setAttribute("aria-expanded", String(open));
      head.innerHTML = '<span class="seq"></span> <span class="status"></span> ' +
        '<span class="strategy"></span> <span class="duration"></span><span class="text"></span>';
      head.querySelector(".seq").textContent = "#" + run.seq;
      head.querySelector(".status").textContent = run.status.replace("_", " ");
      head.querySelector(".strategy").textContent = run.multitask_strategy;
      head.querySelector(".duration").textContent = run.status === "rolled_back" ? "" : duration(run);
      const fork = forkOf(run);
      head.querySelector(".text").textContent = runInput(run).slice(0, 60) ||
        ((run.kwargs || {}).command ? "answer: " + JSON.stringify(run.kwargs.command.resume)
          : fork ? "regenerated answer" : "");
      if (fork) {
        const tag = document.createElement("span");
        tag.className = "fork";
        tag.textContent = runInput(run) ? "edit: forked from an earlier checkpoint" : "forked from an earlier checkpoint";
        head.append(tag);
      }
      head.addEventListener("click", () => {
        if (expanded.has(run.run_id)) expanded.delete(run.run_id); else expanded.add(run.run_id);
        renderRuns();
        el.runs.querySelector(`[data-run-id="${run.run_id}"] .run-head`).focus();
      });
      li.append(head);
      const by = run.status === "rolled_back" ? (run.rolled_back_by ? `erased by ${runLabel(run.rolled_back_by)}` : "erased by a stop")
        : run.cancelled_by ? `interrupted by ${runLabel(run.cancelled_by)}`
        : run.status === "interrupted" ? "stopped by hand"
        : model.interrupts.length && run === [...model.runs.values()].pop() ? "stopped at interrupt(): waiting for your answer"
        : null;
      if (by) {
        const note = document.createElement("div");
        note.className = "by";
        note.textContent = by;
        li.append(note);
      }
      if (open) {
        const detail = document.createElement("div");
        detail.className = "run-detail";
        const lines = [
          ["strategy", run.multitask_strategy],
          ["did to the runs before it", effects(run)],
        ];
        for (const [label, value] of lines) {
          const p = document.createElement("p");
          const b = document.createElement("strong");
          b.textContent = label + ": ";
          p.append(b, value);
          detail.append(p);
        }
        const list = document.createElement("ol");
        list.className = "steps";
        const found = run.status === "rolled_back" ? ["its checkpoints were deleted with it"] : steps(run);
        for (const line of found.length ? found : ["no checkpoint yet"]) {
          const item = document.createElement("li");
          item.textContent = line;
          list.append(item);
        }
        const h = document.createElement("strong");
        h.textContent = "steps:";
        detail.append(h, list);
        li.append(detail);
      }
      el.runs.append(li);
    }
    if (focused) {
      const again = el.runs.querySelector(`[data-run-id="${focused.dataset.runId}"] .run-head`);
      if (again) again.focus();
    }
  }

  function notify(text, kind) {
    el.notice.textContent = text;
    el.notice.className = "notice " + (kind || "");
    el.notice.hidden = false;
    clearTimeout(notify.timer);
    notify.timer = setTimeout(() => { el.notice.hidden = true; }, 6000);
  }

  // For screen readers: streamed tokens would be read word by word, so the
  // finished answer (and other news) is announced once, here.
  function announce(text) {
    el.announcer.textContent = text;
  }

  // --- frames from the server ---------------------------------------------------------

  function upsertMessages(messages) {
    for (const message of messages) {
      const at = model.messages.findIndex((m) => m.id === message.id);
      if (at >= 0) model.messages[at] = message; else model.messages.push(message);
      model.streams.delete(message.id);
    }
  }

  function inputMessages(run) {
    return ((run.kwargs || {}).input || {}).messages || [];
  }

  function runInput(run) {
    const input = inputMessages(run);
    return input.length ? textOf(input[input.length - 1].content) : "";
  }

  function pendingOf(run, queued) {
    return { text: runInput(run), queued, ids: inputMessages(run).map((m) => m.id) };
  }

  function settle(runId) {
    model.pending.delete(runId);
    for (const [id, s] of model.streams) if (s.runId === runId) model.streams.delete(id);
  }

  function setAssistant(assistantId, graphId) {
    model.assistantId = assistantId || model.assistantId;
    model.graphId = graphId || model.graphId;
    const known = assistants.find((a) => a.assistant_id === model.assistantId) ||
      assistants.find((a) => a.graph_id === model.graphId);
    el.graph.textContent = "graph: " + ((known && known.name) || model.graphId || "agent");
  }

  const handlers = {
    state(frame) {
      const active = new Set(frame.runs.filter((r) => r.status === "running" ||
        r.status === "pending").map((r) => r.run_id));
      model.messages = frame.messages;
      model.runs = new Map(frame.runs.map((r) => [r.run_id, r]));
      model.interrupts = frame.interrupts || [];
      setAssistant(frame.assistant_id, frame.graph_id);
      for (const [id, s] of model.streams) if (!active.has(s.runId)) model.streams.delete(id);
      for (const runId of model.pending.keys()) if (!active.has(runId)) model.pending.delete(runId);
      for (const run of frame.runs) {
        if (run.status === "pending" && !model.pending.has(run.run_id)) {
          model.pending.set(run.run_id, pendingOf(run, true));
        }
      }
      loadHistory();
    },
    run(frame) {
      const run = frame.run;
      const known = model.runs.get(run.run_id);
      const seqs = [...model.runs.values()].map((r) => r.seq || 0);
      run.seq = (known && known.seq) || Math.max(0, ...seqs) + 1;
      if (frame.event === "rolled_back") {
        // It stays in the timeline, struck through, naming the run that erased it.
        model.runs.set(run.run_id, { ...known, ...run, status: "rolled_back" });
        settle(run.run_id);
        announce("A run was rolled back: its exchange is erased.");
        return;
      }
      model.runs.set(run.run_id, { ...known, ...run });
      if (frame.event === "created") {
        const busy = [...model.runs.values()].some((r) => r.run_id !== run.run_id &&
          (r.status === "running" || r.status === "pending"));
        if (inputMessages(run).length) model.pending.set(run.run_id, pendingOf(run, busy));
      } else if (frame.event === "started") {
        const p = model.pending.get(run.run_id);
        if (p) p.queued = false;
        // A fork (edit, regenerate) starts from an earlier checkpoint: the
        // conversation is that checkpoint's until the run adds to it.
        const fork = forkOf(run);
        if (fork && history.byId.has(fork)) {
          model.messages = [...messagesOf(history.byId.get(fork))];
          swapping = true;
        }
        model.interrupts = [];  // whatever the thread waited for, this run answers it
      } else if (frame.event === "interrupted") {
        if (frame.partial_message) {
          model.interruptedIds.add(frame.partial_message.id);
          upsertMessages([frame.partial_message]);
        }
        settle(run.run_id);
        loadHistory();
      } else if (frame.event === "success" || frame.event === "error") {
        settle(run.run_id);
        if (frame.event === "error") notify("The run failed: " + ((frame.error || {}).message || "error"), "error");
        const last = model.messages[model.messages.length - 1];
        if (frame.event === "success" && last && last.type === "ai") announce("Agent: " + textOf(last.content));
        loadHistory();
        loadThreads();  // a new thread's name is its first message, now in its values
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
    interrupt(frame) {
      model.interrupts = frame.interrupts || [];
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
    history = emptyHistory();
    view = null;
    editing = null;
    expanded.clear();
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

  // A message frame for this thread: its assistant, the chosen strategy, and on a
  // past branch the checkpoint it continues from.
  function sendMessage(fields) {
    const frame = { type: "message", strategy: el.strategy.value,
      assistant_id: model.assistantId || el.assistant.value || "agent", ...fields };
    if (view && !("checkpoint_id" in frame)) frame.checkpoint_id = view;
    // Optional per-run agent config (demos and tests slow the demo agent down with it).
    if (window.__doubletextConfig) frame.config = window.__doubletextConfig;
    return send(frame);
  }

  el.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const content = el.input.value.trim();
    if (!content) return;
    if (sendMessage({ content })) { el.input.value = ""; view = null; render(); }
  });
  el.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      el.composer.requestSubmit();
    }
  });
  el.stop.addEventListener("click", () => send({ type: "cancel", action: el.stopAction.value }));
  el.branchBar.querySelector("button").addEventListener("click", () => {
    view = null;
    swapping = true;
    render();
  });

  // --- narrow screens: the sidebars are drawers -------------------------------------------

  function toggleDrawer(which, open) {
    const buttonEl = which === "threads" ? el.toggleThreads : el.toggleRuns;
    const panel = which === "threads" ? el.sidebar : el.timeline;
    const show = open === undefined ? !document.body.classList.contains("show-" + which) : open;
    document.body.classList.toggle("show-" + which, show);
    buttonEl.setAttribute("aria-expanded", String(show));
    if (show) {
      toggleDrawer(which === "threads" ? "runs" : "threads", false);
      const first = panel.querySelector("select, .run-head, a") || panel.querySelector("button");
      if (first) first.focus();
    }
  }

  el.toggleThreads.addEventListener("click", () => toggleDrawer("threads"));
  el.toggleRuns.addEventListener("click", () => toggleDrawer("runs"));
  for (const close of document.querySelectorAll(".drawer-close")) {
    close.addEventListener("click", () => {
      toggleDrawer(close.dataset.drawer, false);
      (close.dataset.drawer === "threads" ? el.toggleThreads : el.toggleRuns).focus();
    });
  }
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    for (const which of ["threads", "runs"]) {
      if (document.body.classList.contains("show-" + which)) {
        toggleDrawer(which, false);
        (which === "threads" ? el.toggleThreads : el.toggleRuns).focus();
      }
    }
  });

  // --- threads and assistants (REST API) -----------------------------------------------------

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

  async function loadAssistants() {
    // By name: a stable order (the platform's default, newest first, puts
    // whichever default assistant was written last on top).
    assistants = await api("/assistants/search", { limit: 100, sort_by: "name", sort_order: "asc" });
    // Unless the person chose, new threads are on the demo agent, as before the picker.
    const chosen = el.assistant.value ||
      ((assistants.find((a) => a.graph_id === "agent") || assistants[0] || {}).assistant_id);
    el.assistant.replaceChildren();
    for (const a of assistants) {
      const option = document.createElement("option");
      option.value = a.assistant_id;
      option.textContent = a.name || a.graph_id;
      if (a.description) option.title = a.description;
      option.dataset.graphId = a.graph_id;
      el.assistant.append(option);
    }
    if (chosen) el.assistant.value = chosen;
    setAssistant(null, null);
  }

  async function newThread() {
    const option = el.assistant.selectedOptions[0];
    const metadata = option ? { graph_id: option.dataset.graphId, assistant_id: option.value } : {};
    return api("/threads", { metadata });
  }

  async function loadThreads() {
    const threads = await api("/threads/search", { limit: 50 });
    el.threads.replaceChildren();
    for (const t of threads) {
      const a = document.createElement("a");
      a.href = "#" + t.thread_id;
      a.className = "thread" + (t.thread_id === threadId ? " current" : "");
      if (t.thread_id === threadId) a.setAttribute("aria-current", "page");
      const first = ((t.values || {}).messages || []).find((m) => m.type === "human");
      a.textContent = first ? textOf(first.content).slice(0, 40) : "New thread";
      const graph = (t.metadata || {}).graph_id;
      if (graph && graph !== "agent") {
        const tag = document.createElement("span");
        tag.className = "tag";
        tag.textContent = graph;
        a.append(" ", tag);
      }
      a.title = t.thread_id;
      a.addEventListener("click", () => toggleDrawer("threads", false));
      el.threads.append(a);
    }
    return threads;
  }

  async function openFromHash() {
    const id = location.hash.slice(1);
    if (!id) {
      const threads = await loadThreads();
      location.hash = threads.length ? threads[0].thread_id : (await newThread()).thread_id;
      return;
    }
    if (id !== threadId) connect(id);  // sets the connection pill to "connecting…" at once
    el.title.textContent = "Thread " + id.slice(0, 8);
    loadThreads();
  }

  el.newThread.addEventListener("click", async () => {
    location.hash = (await newThread()).thread_id;
    toggleDrawer("threads", false);
  });
  window.addEventListener("hashchange", openFromHash);
  setInterval(() => {
    for (const li of el.runs.querySelectorAll(".run.running")) {
      const run = model.runs.get(li.dataset.runId);
      if (run) li.querySelector(".duration").textContent = duration(run);
    }
  }, 500);
  loadAssistants()
    .catch((error) => notify(error.message, "error"))
    .then(openFromHash)
    .catch((error) => notify(error.message, "error"));
})();

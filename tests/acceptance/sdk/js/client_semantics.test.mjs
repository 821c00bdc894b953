// What the JS client sends beyond plain runs: human in the loop, forks from a
// checkpoint, resumable streams, on_disconnect, the thread's graph in its metadata.
import assert from "node:assert/strict";
import { test } from "node:test";
import { FAST, SF, SLOW, TIMEOUT, client, humans, streaming, types } from "./lib.mjs";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

test("hitl: the run stops at interrupt(), a Command resumes it", { timeout: TIMEOUT }, async () => {
  const { thread_id: tid } = await client.threads.create();
  const stopped = await client.runs.wait(tid, "hitl", { input: SF, config: FAST });
  assert.equal(stopped.__interrupt__.length, 1);
  assert.equal(stopped.__interrupt__[0].value.question, "Call get_weather?");
  assert.equal((await client.threads.get(tid)).status, "interrupted");
  const state = await client.threads.getState(tid);
  assert.deepEqual(state.next, ["tools"]);
  assert.equal(state.tasks[0].interrupts[0].id, stopped.__interrupt__[0].id);

  const done = await client.runs.wait(tid, "hitl", { command: { resume: "yes" }, config: FAST });
  assert.deepEqual(types(done.messages), ["human", "ai", "tool", "ai"]);
  assert.match(done.messages[3].content, /^The weather in sf is sunny/);
  assert.equal((await client.threads.get(tid)).status, "idle");
});

test("threads.search finds a thread by the graph its runs use", { timeout: TIMEOUT }, async () => {
  const { thread_id: tid } = await client.threads.create();
  await client.runs.wait(tid, "hitl", { input: { messages: ["hi"] }, config: FAST });
  const found = await client.threads.search({ metadata: { graph_id: "hitl" }, limit: 100 });
  assert.ok(found.some((t) => t.thread_id === tid));
  const hit = found.find((t) => t.thread_id === tid);
  assert.equal(hit.values.messages[0].content, "hi"); // what agent-chat-ui titles a thread with
});

test("fork: a run from an earlier checkpoint branches; the branch lacks the later exchange", { timeout: TIMEOUT }, async () => {
  const { thread_id: tid } = await client.threads.create();
  await client.runs.wait(tid, "agent", { input: { messages: ["first question"] }, config: FAST });
  await client.runs.wait(tid, "agent", { input: { messages: ["second question"] }, config: FAST });
  const history = await client.threads.getHistory(tid, { limit: 20 });
  const firstEnd = history.find((h) => h.next.length === 0 && h.values.messages.length === 2);
  const { thread_id, ...checkpoint } = firstEnd.checkpoint; // as useStream sends it
  const values = await client.runs.wait(tid, "agent", {
    input: { messages: [{ type: "human", content: "edited question" }] },
    checkpoint,
    config: FAST,
  });
  assert.deepEqual(humans(values.messages), ["first question", "edited question"]);
  const head = await client.threads.getState(tid);
  assert.deepEqual(humans(head.values.messages), ["first question", "edited question"]);
});

test("a resumable stream: rejoined with Last-Event-ID, every event arrives exactly once", { timeout: TIMEOUT }, async () => {
  const { thread_id: tid } = await client.threads.create();
  const controller = new AbortController();
  const first = [];
  let runId;
  try {
    for await (const part of client.runs.stream(tid, "agent", {
      input: SF,
      config: SLOW,
      streamMode: ["values", "messages-tuple"],
      streamResumable: true,
      signal: controller.signal,
      onRunCreated: (meta) => {
        runId = meta.run_id;
      },
    })) {
      first.push(part);
      if (first.length === 15) controller.abort(); // the connection drops mid-run
    }
  } catch (error) {
    assert.equal(error.name, "AbortError");
  }
  assert.ok(first.every((p) => p.id), "a resumable stream's events have ids");
  const rest = [];
  for await (const part of client.runs.joinStream(tid, runId, {
    lastEventId: first.at(-1).id,
    streamMode: ["values", "messages-tuple"],
  })) {
    rest.push(part);
  }
  const replay = [];
  for await (const part of client.runs.joinStream(tid, runId, {
    lastEventId: "-1",
    streamMode: ["values", "messages-tuple"],
  })) {
    replay.push(part);
  }
  const ids = [...first, ...rest].map((p) => p.id).filter(Boolean);
  assert.equal(new Set(ids).size, ids.length, "an event came twice");
  assert.deepEqual(ids, replay.map((p) => p.id).filter(Boolean), "an event is missing");
  assert.equal(rest.at(-1).event, "end");
  const final = rest.filter((p) => p.event === "values").at(-1).data.messages.at(-1);
  const tokens = [...first, ...rest].filter((p) => p.event === "messages" && p.data[0].id === final.id);
  assert.equal(tokens.map((p) => p.data[0].content).join(""), final.content);
});

test("on_disconnect cancel: the run stops when the client goes away", { timeout: TIMEOUT }, async () => {
  const { thread_id: tid } = await client.threads.create();
  const controller = new AbortController();
  let runId;
  let tokens = 0;
  try {
    for await (const part of client.runs.stream(tid, "agent", {
      input: { messages: ["tell me a long story"] },
      config: SLOW,
      streamMode: "messages-tuple",
      onDisconnect: "cancel",
      signal: controller.signal,
      onRunCreated: (meta) => {
        runId = meta.run_id;
      },
    })) {
      if (part.event === "messages") tokens += 1;
      if (tokens === 5) controller.abort();
    }
  } catch (error) {
    assert.equal(error.name, "AbortError");
  }
  let run;
  for (let i = 0; i < 100; i += 1) {
    run = await client.runs.get(tid, runId);
    if (run.status !== "running" && run.status !== "pending") break;
    await sleep(100);
  }
  assert.equal(run.status, "interrupted");
  const kept = (await client.threads.getState(tid)).values.messages.at(-1);
  assert.equal(kept.response_metadata.interrupted, true);
});

test("joinStream on the thread: the next run as it streams", { timeout: TIMEOUT }, async () => {
  const { thread_id: tid } = await client.threads.create();
  const controller = new AbortController();
  const parts = [];
  const listening = (async () => {
    try {
      for await (const part of client.threads.joinStream(tid, { signal: controller.signal })) {
        parts.push(part);
        if (part.event === "metadata" && part.data.status === "run_done") controller.abort();
      }
    } catch (error) {
      if (error.name !== "AbortError") throw error;
    }
  })();
  await sleep(500);
  const run = await client.runs.create(tid, "agent", { input: { messages: ["hello"] }, config: FAST });
  await listening;
  assert.equal(parts[0].data.run_id, run.run_id);
  assert.ok(parts.some((p) => p.event === "messages"));
  assert.deepEqual(parts.at(-1).data, { status: "run_done", run_id: run.run_id });
});

test("the four strategies work while a resumable stream is open", { timeout: TIMEOUT }, async () => {
  const { thread_id: tid } = await client.threads.create();
  const first = await client.runs.create(tid, "agent", { input: SF, config: SLOW, streamResumable: true });
  await streaming(tid, first.run_id, 3);
  const second = await client.runs.create(tid, "agent", {
    input: { messages: ["never mind"] },
    config: FAST,
    multitaskStrategy: "rollback",
  });
  await client.runs.join(tid, second.run_id);
  const { values } = await client.threads.getState(tid);
  assert.deepEqual(humans(values.messages), ["never mind"]);
});

// Threads with the JS client: create, search by metadata, state, history, update, delete.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";
import { FAST, TIMEOUT, client, httpError, types } from "./lib.mjs";

const HELLO = { messages: [{ role: "user", content: "hello" }] };

test("threads: create, search, getState, getHistory, update, delete", { timeout: TIMEOUT }, async () => {
  // Unique values, so that threads of other tests (or runs) do not match.
  const group = randomUUID();
  const marker = randomUUID();
  const thread = await client.threads.create({ metadata: { group, marker } });
  const tid = thread.thread_id;
  assert.deepEqual(thread.metadata, { group, marker });
  assert.equal(thread.status, "idle");
  const other = await client.threads.create({ metadata: { group, marker: "other" } });

  // search by metadata finds this thread and no other
  const found = await client.threads.search({ metadata: { marker } });
  assert.deepEqual(found.map((t) => t.thread_id), [tid]);
  const both = await client.threads.search({ metadata: { group } });
  assert.deepEqual(both.map((t) => t.thread_id).sort(), [tid, other.thread_id].sort());
  assert.deepEqual(await client.threads.search({ metadata: { marker: randomUUID() } }), []);

  // a new thread's state: empty, no checkpoint yet (as LangGraph Platform's)
  const empty = await client.threads.getState(tid);
  assert.deepEqual(empty.values, {});
  assert.equal(empty.checkpoint, null);

  const values = await client.runs.wait(tid, "agent", { input: HELLO, config: FAST });
  assert.deepEqual(types(values.messages), ["human", "ai"]);

  const state = await client.threads.getState(tid);
  assert.deepEqual(types(state.values.messages), ["human", "ai"]);
  assert.equal(state.values.messages[0].content, "hello");
  assert.match(state.values.messages[1].content, /^You asked: "hello"\./);
  assert.deepEqual(state.values, values);
  assert.deepEqual(state.next, []);
  assert.equal(state.checkpoint.thread_id, tid);

  // history, newest first: the answer (the current state), the input, the empty start
  const history = await client.threads.getHistory(tid);
  assert.deepEqual(history.map((h) => types(h.values.messages || [])), [["human", "ai"], ["human"], []]);
  assert.equal(history[0].checkpoint.checkpoint_id, state.checkpoint.checkpoint_id);
  assert.deepEqual(history[0].values, state.values);
  assert.equal(history[0].parent_checkpoint.checkpoint_id, history[1].checkpoint.checkpoint_id);
  assert.equal(history[2].metadata.source, "input");
  assert.equal(history[2].parent_checkpoint, null);
  const times = history.map((h) => Date.parse(h.created_at));
  assert.deepEqual(times, [...times].sort((a, b) => b - a));
  const limited = await client.threads.getHistory(tid, { limit: 1 });
  assert.deepEqual(limited.map((h) => h.checkpoint.checkpoint_id), [state.checkpoint.checkpoint_id]);
  const before = await client.threads.getHistory(tid, { before: history[0].checkpoint });
  assert.equal(before[0].checkpoint.checkpoint_id, history[1].checkpoint.checkpoint_id);

  // the run stamped its graph into the thread's metadata; update merges more
  const assistant = (await client.assistants.search({ graphId: "agent" }))[0].assistant_id;
  const updated = await client.threads.update(tid, { metadata: { stage: "two" } });
  assert.deepEqual(updated.metadata, {
    group,
    marker,
    graph_id: "agent",
    assistant_id: assistant,
    stage: "two",
  });
  assert.deepEqual((await client.threads.get(tid)).metadata, updated.metadata);
  const byStage = await client.threads.search({ metadata: { group, stage: "two" } });
  assert.deepEqual(byStage.map((t) => t.thread_id), [tid]);

  // delete: gone from get, getState and search
  await client.threads.delete(tid);
  await httpError(client.threads.get(tid), 404);
  await httpError(client.threads.getState(tid), 404);
  assert.deepEqual(await client.threads.search({ metadata: { marker } }), []);
  const rest = await client.threads.search({ metadata: { group } });
  assert.deepEqual(rest.map((t) => t.thread_id), [other.thread_id]);
});

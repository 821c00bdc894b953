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

test("threads: search by graph, sort, select, values, count, copy, state at a checkpoint, prune", { timeout: TIMEOUT }, async () => {
  const group = randomUUID();
  const first = await client.threads.create({ metadata: { group, n: 1 } });
  const second = await client.threads.create({ metadata: { group, n: 2 } });
  const tid = first.thread_id;
  assert.ok(first.state_updated_at);
  assert.equal(first.error, null);
  await client.runs.wait(tid, "agent", { input: HELLO, config: FAST });

  // the run stamped graph_id into the thread's metadata: agent-chat-ui's thread list finds it
  const byGraph = await client.threads.search({ metadata: { graph_id: "agent" } });
  assert.equal(byGraph[0].thread_id, tid);
  assert.ok(!byGraph.some((t) => t.thread_id === second.thread_id));

  // sort and select
  const oldestFirst = await client.threads.search({
    metadata: { group },
    sortBy: "created_at",
    sortOrder: "asc",
    select: ["thread_id", "status"],
  });
  assert.deepEqual(oldestFirst, [
    { thread_id: tid, status: "idle" },
    { thread_id: second.thread_id, status: "idle" },
  ]);
  const newestState = await client.threads.search({ metadata: { group }, sortBy: "state_updated_at", limit: 1 });
  assert.deepEqual(newestState.map((t) => t.thread_id), [tid]);

  // the state's values, and extract
  const state = await client.threads.getState(tid);
  const byValues = await client.threads.search({ values: { messages: state.values.messages } });
  assert.deepEqual(byValues.map((t) => t.thread_id), [tid]);
  const extracted = await client.threads.search({
    ids: [tid],
    select: ["thread_id"],
    extract: { last: "values.messages[-1].type", group: "metadata.group" },
  });
  assert.deepEqual(extracted, [{ thread_id: tid, extracted: { last: "ai", group } }]);

  // count: a bare number
  assert.equal(await client.threads.count({ metadata: { group } }), 2);
  assert.equal(await client.threads.count({ metadata: { group }, status: "busy" }), 0);

  // the state at a checkpoint given as an object (POST /state/checkpoint)
  const history = await client.threads.getHistory(tid);
  const older = await client.threads.getState(tid, history[1].checkpoint);
  assert.equal(older.checkpoint.checkpoint_id, history[1].checkpoint.checkpoint_id);
  assert.deepEqual(older.values, history[1].values);

  // copy: the same history on a new thread
  const copy = await client.threads.copy(tid);
  assert.notEqual(copy.thread_id, tid);
  assert.equal(copy.metadata.group, group);
  const copied = await client.threads.getHistory(copy.thread_id);
  assert.deepEqual(copied.map((h) => h.checkpoint.checkpoint_id), history.map((h) => h.checkpoint.checkpoint_id));

  // prune: keep_latest keeps the state, delete deletes
  assert.deepEqual(await client.threads.prune([copy.thread_id], { strategy: "keep_latest" }), { pruned_count: 1 });
  assert.equal((await client.threads.getHistory(copy.thread_id)).length, 1);
  assert.deepEqual((await client.threads.getState(copy.thread_id)).values, state.values);
  assert.deepEqual(await client.threads.prune([tid, second.thread_id, randomUUID()]), { pruned_count: 2 });
  await httpError(client.threads.get(tid), 404);
  const left = await client.threads.search({ metadata: { group } });
  assert.deepEqual(left.map((t) => t.thread_id), [copy.thread_id]);
});

test("threads: create with supersteps; ttl is refused", { timeout: TIMEOUT }, async () => {
  const thread = await client.threads.create({
    graphId: "agent",
    supersteps: [
      { updates: [{ values: HELLO, asNode: "__start__" }] },
      { updates: [{ values: { messages: [{ type: "ai", content: "hi there" }] }, asNode: "model" }] },
    ],
  });
  assert.deepEqual(thread.values.messages.map((m) => m.content), ["hello", "hi there"]);
  assert.equal(thread.status, "idle");
  assert.equal((await client.threads.getHistory(thread.thread_id)).length, 2);

  const refused = await httpError(client.threads.create({ ttl: 5 }), 422);
  assert.equal(refused.field, "ttl");
});

// The four double-texting strategies, as in LangGraph's double-texting docs
// (https://docs.langchain.com/langsmith/double-texting), with the JS client.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  FAST,
  NYC,
  SF,
  SLOW,
  TIMEOUT,
  client,
  httpError,
  humans,
  streaming,
  types,
  words,
} from "./lib.mjs";

const EXCHANGE = ["human", "ai", "tool", "ai"];

test("reject: the second message is refused with 409, the first run finishes", { timeout: TIMEOUT }, async () => {
  const thread = await client.threads.create();
  const tid = thread.thread_id;
  const run = await client.runs.create(tid, "agent", { input: SF, config: SLOW });
  const body = await httpError(
    client.runs.create(tid, "agent", { input: NYC, multitaskStrategy: "reject", config: FAST }),
    409,
  );
  assert.equal(body.error, "thread_busy");

  await client.runs.join(tid, run.run_id);
  assert.equal((await client.runs.get(tid, run.run_id)).status, "success");
  const state = await client.threads.getState(tid);
  assert.deepEqual(types(state.values.messages), EXCHANGE);
  assert.deepEqual(humans(state.values.messages), ["what's the weather in sf?"]);
  assert.equal(words(state.values.messages[3].content), 60);
  const runs = await client.runs.list(tid);
  assert.deepEqual(runs.map((r) => r.run_id), [run.run_id]);
});

test("enqueue: both runs succeed, one after the other, both exchanges in order", { timeout: TIMEOUT }, async () => {
  const thread = await client.threads.create();
  const tid = thread.thread_id;
  const first = await client.runs.create(tid, "agent", { input: SF, config: SLOW });
  const second = await client.runs.create(tid, "agent", {
    input: NYC,
    multitaskStrategy: "enqueue",
    config: FAST,
  });
  assert.equal(second.status, "pending");
  // The first run is still going (it streams for about 3 s): the second waits for it.
  assert.ok(["pending", "running"].includes((await client.runs.get(tid, first.run_id)).status));
  assert.equal((await client.runs.get(tid, second.run_id)).status, "pending");

  await client.runs.join(tid, second.run_id);
  for (const run of [first, second]) {
    assert.equal((await client.runs.get(tid, run.run_id)).status, "success");
  }
  const { values } = await client.threads.getState(tid);
  assert.deepEqual(types(values.messages), [...EXCHANGE, ...EXCHANGE]);
  assert.deepEqual(humans(values.messages), ["what's the weather in sf?", "what's the weather in nyc?"]);
  // The first answer was not cut short.
  assert.match(values.messages[3].content, /^The weather in sf is sunny/);
  assert.equal(words(values.messages[3].content), 60);
  assert.equal(values.messages[3].response_metadata.interrupted, undefined);
  assert.match(values.messages[7].content, /^The weather in nyc is sunny/);
});

test("interrupt: the first run stops, its partial answer is kept and marked", { timeout: TIMEOUT }, async () => {
  const thread = await client.threads.create();
  const tid = thread.thread_id;
  const interrupted = await client.runs.create(tid, "agent", { input: SF, config: SLOW });
  await streaming(tid, interrupted.run_id, 5);
  const run = await client.runs.create(tid, "agent", {
    input: NYC,
    multitaskStrategy: "interrupt",
    config: FAST,
  });
  await client.runs.join(tid, run.run_id);

  assert.equal((await client.runs.get(tid, interrupted.run_id)).status, "interrupted");
  assert.equal((await client.runs.get(tid, run.run_id)).status, "success");
  const { values } = await client.threads.getState(tid);
  const messages = values.messages;
  assert.deepEqual(types(messages), [...EXCHANGE, ...EXCHANGE]);
  assert.deepEqual(humans(messages), ["what's the weather in sf?", "what's the weather in nyc?"]);
  const partial = messages[3];
  assert.equal(partial.response_metadata.interrupted, true);
  assert.match(partial.content, /^The weather in sf/);
  const partialWords = words(partial.content);
  assert.ok(partialWords >= 5 && partialWords < 60, `partial answer has ${partialWords} words`);
  const answer = messages[7];
  assert.match(answer.content, /^The weather in nyc is sunny/);
  // 12 words asked; the weather sentence is longer, and replies are whole sentences.
  assert.match(answer.content, /°C.*humidity\.$/);
  assert.notEqual(answer.response_metadata.interrupted, true);
});

test("rollback: the first run and its exchange are gone, only the second remains", { timeout: TIMEOUT }, async () => {
  const thread = await client.threads.create();
  const tid = thread.thread_id;
  const rolledBack = await client.runs.create(tid, "agent", { input: SF, config: SLOW });
  await streaming(tid, rolledBack.run_id);
  const run = await client.runs.create(tid, "agent", {
    input: NYC,
    multitaskStrategy: "rollback",
    config: FAST,
  });
  await client.runs.join(tid, run.run_id);

  await httpError(client.runs.get(tid, rolledBack.run_id), 404);
  assert.equal((await client.runs.get(tid, run.run_id)).status, "success");
  const runs = await client.runs.list(tid);
  assert.deepEqual(runs.map((r) => r.run_id), [run.run_id]);
  const { values } = await client.threads.getState(tid);
  assert.deepEqual(types(values.messages), EXCHANGE);
  assert.deepEqual(humans(values.messages), ["what's the weather in nyc?"]);
  assert.match(values.messages[3].content, /^The weather in nyc is sunny/);
  assert.doesNotMatch(JSON.stringify(values), /\bsf\b/, "something of the sf exchange is left");
});

// Runs in bulk and delayed with the JS client: runs.createBatch (POST /runs/batch),
// runs.cancelMany (POST /runs/cancel, by thread and run ids, or by status) and
// runs.create's afterSeconds.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { FAST, SLOW, TIMEOUT, client, httpError } from "./lib.mjs";

const hello = (text) => ({ messages: [{ role: "user", content: text }] });

async function eventually(check, tries = 300) {
  for (let i = 0; i < tries; i += 1) {
    const value = await check();
    if (value) return value;
    await sleep(100);
  }
  assert.fail("condition not met in time");
}

test("runs.createBatch starts thread-less runs, all or nothing", { timeout: TIMEOUT }, async () => {
  const runs = await client.runs.createBatch(
    [0, 1, 2].map((i) => ({ assistantId: "agent", input: hello(`batch ${i}`), config: FAST })),
  );
  assert.equal(runs.length, 3);
  assert.equal(new Set(runs.map((r) => r.thread_id)).size, 3);
  for (const [i, run] of runs.entries()) {
    const values = await client.runs.join(run.thread_id, run.run_id);
    assert.equal(values.messages[0].content, `batch ${i}`);
    assert.equal(values.messages.at(-1).type, "ai");
  }
  const body = await httpError(
    client.runs.createBatch([
      { assistantId: "agent", input: hello("fine") },
      { assistantId: "nobody", input: hello("not fine") },
    ]),
    404,
  );
  assert.equal(body.field, "assistant_id");
  assert.equal(await client.threads.count({ metadata: { graph_id: "agent" } }), 3);
});

test("runs.cancelMany on 20 busy threads leaves none busy", { timeout: TIMEOUT }, async () => {
  const threads = [];
  for (let i = 0; i < 20; i += 1) threads.push(await client.threads.create());
  const runs = [];
  for (const thread of threads) {
    runs.push(await client.runs.create(thread.thread_id, "agent", { input: hello("long"), config: SLOW }));
  }
  await client.runs.cancelMany({ status: "all" });
  await eventually(async () => (await client.threads.count({ status: "busy" })) === 0);
  for (const run of runs) {
    const got = await client.runs.get(run.thread_id, run.run_id);
    assert.equal(got.status, "interrupted");
  }
  // Nothing left in flight: nothing matches.
  await httpError(client.runs.cancelMany({ status: "all" }), 404);
});

test("runs.cancelMany of one thread's runs, with rollback", { timeout: TIMEOUT }, async () => {
  const thread = await client.threads.create();
  const first = await client.runs.create(thread.thread_id, "agent", { input: hello("one"), config: SLOW });
  const second = await client.runs.create(thread.thread_id, "agent", {
    input: hello("two"),
    config: SLOW,
    multitaskStrategy: "enqueue",
  });
  await client.runs.cancelMany({
    threadId: thread.thread_id,
    runIds: [first.run_id, second.run_id],
    action: "rollback",
  });
  assert.deepEqual(await client.runs.list(thread.thread_id), []);
  await httpError(client.runs.get(thread.thread_id, first.run_id), 404);
  const body = await httpError(client.runs.cancelMany({ threadId: thread.thread_id }), 422);
  assert.equal(body.field, "run_ids");
});

test("runs.create with afterSeconds starts no earlier than asked", { timeout: TIMEOUT }, async () => {
  const thread = await client.threads.create();
  const run = await client.runs.create(thread.thread_id, "agent", {
    input: hello("later"),
    config: FAST,
    afterSeconds: 2,
  });
  assert.equal((await client.runs.get(thread.thread_id, run.run_id)).status, "pending");
  const values = await client.runs.join(thread.thread_id, run.run_id);
  assert.equal(values.messages.at(-1).type, "ai");
  const done = await client.runs.get(thread.thread_id, run.run_id);
  assert.equal(done.status, "success");
  // The server's own timestamps: started at least 2 s after it was created.
  assert.ok(Date.parse(done.started_at) - Date.parse(done.created_at) >= 2000, JSON.stringify(done));
});

// Crons with the JS client: createForThread, create (stateless), search, count,
// update, delete, their errors, and a cron that fires. A fired cron uses a
// six-field schedule, seconds last (croniter's syntax, which the platform
// validates with too), so it ticks within seconds.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { FAST, TIMEOUT, client, httpError } from "./lib.mjs";

const YEARLY = "0 0 1 1 *";
const HELLO = { messages: [{ role: "user", content: "scheduled hello" }] };

/** Poll `check` until it returns something truthy (no timing is asserted). */
async function eventually(check, tries = 200) {
  for (let i = 0; i < tries; i += 1) {
    const value = await check();
    if (value) return value;
    await sleep(100);
  }
  assert.fail("condition not met in time");
}

test("crons: create, search, count, update, delete", { timeout: TIMEOUT }, async () => {
  const thread = await client.threads.create();
  const cron = await client.crons.createForThread(thread.thread_id, "agent", {
    schedule: YEARLY,
    input: HELLO,
    metadata: { team: "js" },
    timezone: "America/New_York",
    multitaskStrategy: "enqueue",
  });
  assert.equal(cron.thread_id, thread.thread_id);
  assert.equal(cron.schedule, YEARLY);
  assert.equal(cron.timezone, "America/New_York");
  assert.equal(cron.enabled, true);
  assert.deepEqual(cron.metadata, { team: "js" });
  assert.deepEqual(cron.payload.input, HELLO);
  // Midnight on 1 January in New York is 5:00 UTC.
  assert.match(cron.next_run_date, /-01-01T05:00:00\+00:00$/);

  const stateless = await client.crons.create("agent", {
    schedule: "0 * * * *",
    input: HELLO,
    onRunCompleted: "keep",
    endTime: new Date(Date.now() + 86_400_000).toISOString(),
  });
  assert.equal(stateless.thread_id, null);
  assert.equal(stateless.on_run_completed, "keep");
  assert.ok(stateless.end_time);

  assert.equal(await client.crons.count(), 2);
  assert.equal(await client.crons.count({ threadId: thread.thread_id }), 1);
  assert.equal(await client.crons.count({ metadata: { team: "js" } }), 1);
  const mine = await client.crons.search({ threadId: thread.thread_id });
  assert.deepEqual(mine.map((c) => c.cron_id), [cron.cron_id]);
  const all = await client.crons.search({ sortBy: "created_at", sortOrder: "asc" });
  assert.deepEqual(all.map((c) => c.cron_id), [cron.cron_id, stateless.cron_id]);
  // Newest first by default: the second page of one is the first cron.
  const page = await client.crons.search({ limit: 1, offset: 1, select: ["cron_id"] });
  assert.deepEqual(page, [{ cron_id: cron.cron_id }]);

  const updated = await client.crons.update(cron.cron_id, {
    schedule: "15 * * * *",
    enabled: false,
    metadata: { more: true },
  });
  assert.equal(updated.schedule, "15 * * * *");
  assert.equal(updated.enabled, false);
  assert.deepEqual(updated.metadata, { team: "js", more: true });
  assert.match(updated.next_run_date, /:15:00\+00:00$/);
  const disabled = await client.crons.search({ enabled: false });
  assert.deepEqual(disabled.map((c) => c.cron_id), [cron.cron_id]);

  await client.crons.delete(cron.cron_id);
  await client.crons.delete(stateless.cron_id);
  assert.equal(await client.crons.count(), 0);
  await httpError(client.crons.delete(cron.cron_id), 404);
});

test("crons: bad schedules, time zones, assistants and fields are refused", { timeout: TIMEOUT }, async () => {
  const thread = await client.threads.create();
  const before = await client.crons.count();
  let body = await httpError(client.crons.create("agent", { schedule: "sometimes" }), 422);
  assert.equal(body.field, "schedule");
  body = await httpError(client.crons.create("agent", { schedule: YEARLY, timezone: "Atlantis" }), 422);
  assert.equal(body.field, "timezone");
  body = await httpError(client.crons.create("nobody", { schedule: YEARLY }), 404);
  assert.equal(body.field, "assistant_id");
  body = await httpError(
    client.crons.createForThread(thread.thread_id, "agent", { schedule: YEARLY, onRunCompleted: "keep" }),
    422,
  );
  assert.equal(body.field, "on_run_completed");
  body = await httpError(
    client.crons.create("agent", { schedule: YEARLY, webhook: "https://example.com/hook" }),
    422,
  );
  assert.equal(body.field, "webhook");
  await httpError(client.crons.update("00000000-0000-0000-0000-000000000000", { enabled: true }), 404);
  assert.equal(await client.crons.count(), before);
});

test("crons: a thread's cron fires, and its run answers", { timeout: TIMEOUT }, async () => {
  const thread = await client.threads.create();
  const cron = await client.crons.createForThread(thread.thread_id, "agent", {
    schedule: "* * * * * */2",
    input: HELLO,
    config: FAST,
    metadata: { by: "cron" },
  });
  const runs = await eventually(async () => {
    const found = await client.runs.list(thread.thread_id);
    return found.length ? found : null;
  });
  await client.crons.delete(cron.cron_id);
  const run = runs.at(-1);
  assert.deepEqual(run.metadata, { by: "cron" });
  const values = await client.runs.join(thread.thread_id, run.run_id);
  assert.equal(values.messages[0].content, "scheduled hello");
  assert.equal(values.messages.at(-1).type, "ai");
});

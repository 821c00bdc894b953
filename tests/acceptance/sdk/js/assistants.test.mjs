// Assistants with the JS client: create, get, update (a new version), getVersions,
// setLatest, search (filters, sort, select, pagination), count, delete; the
// defaults read-only; a run of an assistant runs with its context under the run's.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";
import { TIMEOUT, client, httpError, words } from "./lib.mjs";

const lastWords = (values) => words(values.messages.at(-1).content);

test("assistants: create, get, update, versions, set latest", { timeout: TIMEOUT }, async () => {
  const assistantId = randomUUID();
  const made = await client.assistants.create({
    graphId: "agent",
    assistantId,
    name: "terse",
    context: { reply_words: 20, token_delay: 0 },
    metadata: { suite: "js-crud" },
  });
  assert.equal(made.assistant_id, assistantId);
  assert.equal(made.version, 1);
  assert.deepEqual(made.config, { configurable: { reply_words: 20, token_delay: 0 } });
  assert.deepEqual(await client.assistants.get(assistantId), made);
  const same = await client.assistants.create({ graphId: "agent", assistantId, ifExists: "do_nothing" });
  assert.deepEqual(same, made);
  await httpError(client.assistants.create({ graphId: "agent", assistantId }), 409);

  const updated = await client.assistants.update(assistantId, {
    context: { reply_words: 30, token_delay: 0 },
    metadata: { tier: 2 },
    name: "wordier",
  });
  assert.equal(updated.version, 2);
  assert.deepEqual(updated.metadata, { suite: "js-crud", tier: 2 });
  const versions = await client.assistants.getVersions(assistantId);
  assert.deepEqual(versions.map((v) => v.version), [2, 1]);
  assert.equal(versions[1].context.reply_words, 20);
  const back = await client.assistants.setLatest(assistantId, 1);
  assert.equal(back.version, 1);
  assert.equal(back.name, "terse");

  const body = await httpError(
    client.assistants.create({ graphId: "agent", context: { reply_words: "many" } }),
    422,
  );
  assert.equal(body.field, "context.reply_words");
  await httpError(client.assistants.create({ graphId: "no-such-graph" }), 404);
});

test("assistants: search, count, delete; the defaults read-only", { timeout: TIMEOUT }, async () => {
  const suite = { suite: `js-search-${randomUUID()}` };
  const red = await client.assistants.create({ graphId: "agent", name: "Red Fox", metadata: suite });
  const blue = await client.assistants.create({ graphId: "hitl", name: "Blue Whale", metadata: suite });

  const mine = await client.assistants.search({ metadata: suite });
  assert.deepEqual(mine.map((a) => a.assistant_id), [blue.assistant_id, red.assistant_id]);
  const byName = await client.assistants.search({ metadata: suite, sortBy: "name", sortOrder: "asc" });
  assert.deepEqual(byName.map((a) => a.name), ["Blue Whale", "Red Fox"]);
  const whale = await client.assistants.search({ name: "WHALE", graphId: "hitl" });
  assert.deepEqual(whale.map((a) => a.assistant_id), [blue.assistant_id]);
  const picked = await client.assistants.search({ metadata: suite, select: ["assistant_id", "name"], limit: 1 });
  assert.deepEqual(picked, [{ assistant_id: blue.assistant_id, name: "Blue Whale" }]);
  const page = await client.assistants.search({ metadata: suite, limit: 1, includePagination: true });
  assert.equal(page.assistants.length, 1);
  assert.equal(page.next, "1");
  assert.equal(await client.assistants.count({ metadata: suite }), 2);
  assert.equal(await client.assistants.count({ metadata: { created_by: "system" } }), 2);

  await client.assistants.delete(red.assistant_id);
  await httpError(client.assistants.get(red.assistant_id), 404);
  assert.equal(await client.assistants.count({ metadata: suite }), 1);

  const [agent] = await client.assistants.search({ graphId: "agent", metadata: { created_by: "system" } });
  assert.equal(agent.name, "agent");
  const refused = await httpError(client.assistants.update(agent.assistant_id, { name: "mine" }), 403);
  assert.equal(refused.error, "assistant_read_only");
  await httpError(client.assistants.delete(agent.assistant_id), 403);
});

test("assistants: a run uses the assistant's context under its own", { timeout: TIMEOUT }, async () => {
  const terse = await client.assistants.create({
    graphId: "agent",
    context: { reply_words: 20, token_delay: 0 },
  });
  const thread = await client.threads.create();
  const input = { messages: [{ role: "user", content: "hello there" }] };
  const values = await client.runs.wait(thread.thread_id, terse.assistant_id, { input });
  assert.equal(lastWords(values), 20);
  const own = await client.runs.wait(thread.thread_id, terse.assistant_id, {
    input,
    context: { reply_words: 9 },
  });
  assert.equal(lastWords(own), 9);
  const runs = await client.runs.list(thread.thread_id);
  assert.deepEqual(new Set(runs.map((r) => r.assistant_id)), new Set([terse.assistant_id]));

  let last;
  for await (const part of client.runs.stream(thread.thread_id, terse.assistant_id, {
    input,
    streamMode: "values",
  })) {
    if (part.event === "values") last = part.data;
  }
  assert.equal(lastWords(last), 20);

  const graph = await client.assistants.getGraph(terse.assistant_id);
  assert.ok(graph.nodes.some((n) => n.id === "model"));
  const schemas = await client.assistants.getSchemas(terse.assistant_id);
  assert.equal(schemas.graph_id, "agent");
});

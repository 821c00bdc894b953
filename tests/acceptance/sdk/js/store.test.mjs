// The store with the JS client: putItem, getItem (null when missing), searchItems with
// a filter and paging, listNamespaces with prefix, suffix, wildcard and maxDepth,
// deleteItem; errors as HTTP statuses.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";
import { TIMEOUT, client, httpError } from "./lib.mjs";

test("store: put, get, search, list namespaces, delete", { timeout: TIMEOUT }, async () => {
  // A root label of its own: the local demo user's store is shared by the other tests.
  const root = `js-${randomUUID()}`;
  const store = client.store;
  await store.putItem([root, "bob"], "prefs", { theme: "light", lang: "fr" });
  await store.putItem([root, "alice", "notes"], "n1", { text: "buy milk", tags: ["todo"] });
  await store.putItem([root, "alice"], "prefs", { theme: "dark" });
  await store.putItem([root, "alice"], "prefs", { theme: "blue" }, { ttl: 60, index: false });

  const item = await store.getItem([root, "alice"], "prefs");
  assert.deepEqual(item.namespace, [root, "alice"]);
  assert.deepEqual(item.value, { theme: "blue" });
  assert.equal(item.createdAt, item.created_at);
  assert.ok(Date.parse(item.updatedAt) > Date.parse(item.createdAt));
  assert.equal(await store.getItem([root, "alice"], "nope"), null);
  assert.deepEqual((await store.getItem([root, "alice"], "prefs", { refreshTtl: false })).value, {
    theme: "blue",
  });

  const all = await store.searchItems([root]);
  assert.deepEqual(
    all.items.map((i) => [i.namespace.slice(1).join("."), i.key]),
    [["alice", "prefs"], ["alice.notes", "n1"], ["bob", "prefs"]],
  );
  assert.ok(all.items.every((i) => i.score === null));
  const light = await store.searchItems([root], { filter: { theme: { $ne: "blue" }, lang: "fr" } });
  assert.deepEqual(light.items.map((i) => i.value), [{ theme: "light", lang: "fr" }]);
  const todo = await store.searchItems([root], { filter: { tags: ["todo"] } });
  assert.deepEqual(todo.items.map((i) => i.key), ["n1"]);
  const page = await store.searchItems([root], { limit: 1, offset: 2 });
  assert.deepEqual(page.items.map((i) => i.namespace.at(-1)), ["bob"]);

  const listed = await store.listNamespaces({ prefix: [root] });
  assert.deepEqual(listed.namespaces, [[root, "alice"], [root, "alice", "notes"], [root, "bob"]]);
  const shallow = await store.listNamespaces({ prefix: [root], maxDepth: 2 });
  assert.deepEqual(shallow.namespaces, [[root, "alice"], [root, "bob"]]);
  const wild = await store.listNamespaces({ prefix: [root, "*", "notes"] });
  assert.deepEqual(wild.namespaces, [[root, "alice", "notes"]]);
  const ending = await store.listNamespaces({ prefix: [root], suffix: ["bob"] });
  assert.deepEqual(ending.namespaces, [[root, "bob"]]);

  await store.deleteItem([root, "bob"], "prefs");
  await store.deleteItem([root, "bob"], "prefs"); // nothing left to delete: still fine
  assert.equal(await store.getItem([root, "bob"], "prefs"), null);
  const left = await store.listNamespaces({ prefix: [root] });
  assert.deepEqual(left.namespaces, [[root, "alice"], [root, "alice", "notes"]]);
});

test("store: bad input is refused", { timeout: TIMEOUT }, async () => {
  const store = client.store;
  let body = await httpError(store.putItem([], "k", { x: 1 }), 400);
  assert.equal(body.field, "namespace");
  body = await httpError(store.putItem(["x"], "k", "not an object"), 422);
  assert.equal(body.field, "value");
  body = await httpError(store.searchItems(["x"], { query: "milk" }), 422);
  assert.equal(body.field, "query");
  body = await httpError(store.searchItems(["x"], { filter: { n: { $gt: [1] } } }), 422);
  assert.equal(body.field, "filter.n.$gt");
  body = await httpError(store.listNamespaces({ maxDepth: 0 }), 422);
  assert.equal(body.field, "max_depth");
  await assert.rejects(store.putItem(["a.b"], "k", { x: 1 }), /periods/); // refused by the SDK
});

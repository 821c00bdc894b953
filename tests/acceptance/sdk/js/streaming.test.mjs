// SSE with the JS client: runs.stream token by token, runs.joinStream mid-run.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SF, SLOW, TIMEOUT, client, streaming, types, words } from "./lib.mjs";

const HELLO = { messages: [{ role: "user", content: "hello" }] };

test("runs.stream: metadata first, then the answer token by token, final values", { timeout: TIMEOUT }, async () => {
  const thread = await client.threads.create();
  const tid = thread.thread_id;
  let created;
  const start = performance.now();
  const parts = [];
  for await (const part of client.runs.stream(tid, "agent", {
    input: SF,
    config: SLOW,
    streamMode: ["values", "messages-tuple"],
    onRunCreated: (meta) => {
      created = meta;
    },
  })) {
    parts.push({ at: performance.now() - start, ...part });
  }
  const events = parts.map((p) => p.event);

  assert.equal(events[0], "metadata");
  const runId = parts[0].data.run_id;
  assert.deepEqual(created, { run_id: runId, thread_id: tid });
  assert.equal(events.at(-1), "end");
  assert.ok(!events.includes("error"), `an error event: ${JSON.stringify(parts)}`);
  assert.deepEqual([...new Set(events)].sort(), ["end", "messages", "metadata", "values"]);

  // The model streams its tool call as a chunk, as a real LLM does; the tool's
  // result, which no model streamed, comes whole when its node finishes.
  const chunks = parts.filter((p) => p.event === "messages" && p.data[0].type === "AIMessageChunk");
  const call = chunks[0].data[0];
  assert.equal(call.content, "");
  assert.equal(call.tool_calls[0].name, "get_weather");
  assert.deepEqual(call.tool_calls[0].args, { city: "sf" });
  assert.equal(chunks[0].data[1].langgraph_node, "model");
  const whole = parts.filter((p) => p.event === "messages" && p.data[0].type !== "AIMessageChunk");
  assert.deepEqual(types(whole.map((p) => p.data[0])), ["tool"]);
  assert.equal(whole[0].data[1].langgraph_node, "tools");

  // The answer: one `messages` event per token, each one word, of one message.
  const tokens = chunks.slice(1);
  assert.equal(tokens.length, 60);
  for (const [i, { data }] of tokens.entries()) {
    assert.match(data[0].content, i === 0 ? /^\S+$/ : /^ \S+$/, `token ${i}`);
    assert.equal(data[0].id, tokens[0].data[0].id);
    assert.equal(data[1].langgraph_node, "model");
    assert.equal(data[1].run_id, runId);
  }
  const text = tokens.map((p) => p.data[0].content).join("");
  assert.match(text, /^The weather in sf is sunny at 21°C/);
  // Streamed, not batched: the first token came long before the last.
  const spread = tokens.at(-1).at - tokens[0].at;
  assert.ok(spread > 1500, `60 tokens 50 ms apart arrived within ${spread.toFixed(0)} ms`);

  // `values` after each step; the last one holds the whole answer.
  const values = parts.filter((p) => p.event === "values").map((p) => p.data);
  assert.deepEqual(types(values[0].messages), ["human"]);
  const last = values.at(-1).messages;
  assert.deepEqual(types(last), ["human", "ai", "tool", "ai"]);
  assert.equal(last[3].content, text);
  assert.equal(last[3].id, tokens[0].data[0].id);
  assert.ok(events.lastIndexOf("values") > events.lastIndexOf("messages"));

  assert.equal((await client.runs.get(tid, runId)).status, "success");
  const state = await client.threads.getState(tid);
  assert.equal(state.values.messages.at(-1).content, text);
});

test("runs.joinStream: attached mid-run, gets what already streamed, then the rest", { timeout: TIMEOUT }, async () => {
  const thread = await client.threads.create();
  const tid = thread.thread_id;
  const run = await client.runs.create(tid, "agent", { input: HELLO, config: SLOW });
  await streaming(tid, run.run_id, 10);

  const parts = [];
  for await (const part of client.runs.joinStream(tid, run.run_id, {
    streamMode: ["messages-tuple", "values"],
  })) {
    parts.push(part);
  }
  const events = parts.map((p) => p.event);
  assert.equal(events[0], "metadata");
  assert.equal(parts[0].data.run_id, run.run_id);
  assert.equal(events.at(-1), "end");
  assert.equal(parts.at(-1).data.status, "success");

  const chunks = parts.filter((p) => p.event === "messages").map((p) => p.data[0].content);
  // (`hello` calls no tool: every chunk is a piece of the answer.)
  // First what had already streamed (at least the 10 tokens seen), as one chunk,
  // then the rest token by token.
  assert.ok(words(chunks[0]) >= 10, `first chunk: ${JSON.stringify(chunks[0])}`);
  assert.ok(chunks.length > 1 && chunks.length < 60, `${chunks.length} chunks`);
  for (const chunk of chunks.slice(1)) assert.match(chunk, /^ \S+$/);
  const assembled = chunks.join("");

  const state = await client.threads.getState(tid);
  const final = state.values.messages.at(-1);
  assert.equal(final.type, "ai");
  assert.equal(assembled, final.content);
  assert.match(assembled, /^You asked: "hello"\. This reply comes from the offline demo model/);
  assert.match(assembled, /\.$/); // whole sentences, at any length
  assert.equal(words(assembled), 60);
  const values = parts.filter((p) => p.event === "values");
  assert.equal(values.at(-1).data.messages.at(-1).content, final.content);
});

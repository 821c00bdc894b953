// Shared by the *.test.mjs files: the client, the demo agent's speeds, helpers.
import assert from "node:assert/strict";
import { Client } from "@langchain/langgraph-sdk";

export const apiUrl = process.env.DOUBLETEXT_URL;
if (!apiUrl) {
  throw new Error("DOUBLETEXT_URL is not set (tests/acceptance/sdk/test_js_sdk.py sets it)");
}

// The server accepts clients on 127.0.0.1 without credentials (local demo mode).
export const client = new Client({ apiUrl });

// The demo agent's per-run speed: a slow run streams for about 3 s (time to
// double-text), a fast one well under a second.
export const SLOW = { configurable: { token_delay: 0.05, reply_words: 60 } };
export const FAST = { configurable: { token_delay: 0.01, reply_words: 12 } };

export const SF = { messages: [{ role: "user", content: "what's the weather in sf?" }] };
export const NYC = { messages: [{ role: "user", content: "what's the weather in nyc?" }] };

// Each test gets this long before node:test fails it (a hung stream must not hang CI).
export const TIMEOUT = 30_000;

export const types = (messages) => messages.map((m) => m.type);
export const humans = (messages) =>
  messages.filter((m) => m.type === "human").map((m) => m.content);
export const words = (text) => text.trim().split(/\s+/).length;

/** Wait until a run has streamed `chunks` tokens, as a user watching it would see
 * them (joinStream), then let go of the stream. */
export async function streaming(threadId, runId, chunks = 1) {
  const controller = new AbortController();
  let seen = 0;
  for await (const part of client.runs.joinStream(threadId, runId, {
    streamMode: "messages-tuple",
    signal: controller.signal,
  })) {
    // Words of an answer: the chunks with text (a tool call streams as a chunk too).
    if (part.event === "messages" && part.data[0].type === "AIMessageChunk" && part.data[0].content) {
      seen += 1;
      if (seen >= chunks) {
        controller.abort();
        return;
      }
    }
  }
  assert.fail(`run ${runId} ended after ${seen} of the ${chunks} chunks waited for`);
}

/** Await `promise` and check that the client threw for an HTTP `status`;
 * returns the response body (parsed JSON). */
export async function httpError(promise, status) {
  let error;
  await assert.rejects(promise, (e) => {
    error = e;
    return true;
  });
  assert.equal(error.status, status, `expected HTTP ${status}, got: ${error.message}`);
  return JSON.parse(error.text);
}

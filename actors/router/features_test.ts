import {
  deepStrictEqual as assertEquals,
  notDeepStrictEqual,
  ok as assert,
} from "node:assert/strict";
import { requestFeatures } from "./features.ts";

const opts = { sessionId: undefined, blockChars: 8 };

function chat(...contents: unknown[]) {
  return { model: "m", messages: contents.map((content) => ({ role: "user", content })) };
}

Deno.test("requestFeatures reads the model, the session and the prompt length", () => {
  const f = requestFeatures(chat("hello"), { sessionId: "s1", blockChars: 8 });
  assertEquals(f.model, "m");
  assertEquals(f.sessionId, "s1");
  // "user" + separator + "hello" + separator.
  assertEquals(f.promptChars, 11);
  assertEquals(f.prefixHashes.length, 1);
});

Deno.test("requestFeatures hashes whole blocks only, chained over the prefix", () => {
  const a = requestFeatures(chat("0123456789abcdefghijklmnopqrstuvwxyz"), opts);
  const b = requestFeatures(chat("0123456789abcdefghijklmnopqrstuvwxYz"), opts);
  assertEquals(a.promptChars, 42);
  assertEquals(a.prefixHashes.length, 5);
  // The prompts differ in stream position 39 (after "user" and a separator), the end of block 4.
  assertEquals(a.prefixHashes.slice(0, 4), b.prefixHashes.slice(0, 4));
  notDeepStrictEqual(a.prefixHashes[4], b.prefixHashes[4]);
  assertEquals(new Set(a.prefixHashes).size, 5);
});

Deno.test("a change in the first block changes every hash", () => {
  const a = requestFeatures(chat("XXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"), opts);
  const b = requestFeatures(chat("XXYXXXXXXXXXXXXXXXXXXXXXXXXXXX"), opts);
  for (let i = 0; i < a.prefixHashes.length; i++) {
    notDeepStrictEqual(a.prefixHashes[i], b.prefixHashes[i]);
  }
});

Deno.test("a conversation's next turn shares the hashes of the turn before", () => {
  const turn1 = {
    model: "m",
    messages: [{ role: "system", content: "s".repeat(50) }, { role: "user", content: "q1" }],
  };
  const turn2 = {
    model: "m",
    messages: [...turn1.messages, { role: "assistant", content: "a1" }, {
      role: "user",
      content: "q2",
    }],
  };
  const f1 = requestFeatures(turn1, opts);
  const f2 = requestFeatures(turn2, opts);
  assertEquals(f2.prefixHashes.slice(0, f1.prefixHashes.length), f1.prefixHashes);
  assert(f2.prefixHashes.length > f1.prefixHashes.length);
});

Deno.test("content-part arrays hash like the same text as a string", () => {
  const text = "the quick brown fox jumps over the lazy dog";
  const asString = requestFeatures(chat(text), opts);
  const asParts = requestFeatures(
    chat([{ type: "text", text: text.slice(0, 10) }, { type: "text", text: text.slice(10) }]),
    opts,
  );
  assertEquals(asParts.prefixHashes, asString.prefixHashes);
});

Deno.test("completion prompts are hashed, as a string or a list of strings", () => {
  const one = requestFeatures({ model: "m", prompt: "abcdefghijklmnopq" }, opts);
  assertEquals(one.prefixHashes.length, 2);
  assertEquals(one.promptChars, 17);
  const list = requestFeatures({ model: "m", prompt: ["abcdefgh", "ijklmnopq"] }, opts);
  assertEquals(list.prefixHashes.length, 2);
  const tokens = requestFeatures({ model: "m", prompt: [1, 2, 3, 4] }, opts);
  assertEquals(tokens.prefixHashes.length, 1);
});

Deno.test("moving text between a role and its content changes the hashes", () => {
  const a = requestFeatures({
    model: "m",
    messages: [{ role: "user", content: "assistant: hi there" }],
  }, opts);
  const b = requestFeatures({
    model: "m",
    messages: [{ role: "user", content: "" }, { role: "assistant", content: "hi there" }],
  }, opts);
  notDeepStrictEqual(a.prefixHashes, b.prefixHashes);
});

Deno.test("requestFeatures tolerates bodies of other shapes", () => {
  for (const body of [null, 42, "text", [], { messages: "no" }, { messages: [null, 3] }]) {
    const f = requestFeatures(body, opts);
    assertEquals(f.prefixHashes.length, 0);
  }
  assertEquals(requestFeatures({ model: 3 }, opts).model, "");
});

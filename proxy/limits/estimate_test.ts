import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { estimateTokens } from "./estimate.ts";

const options = { defaultCompletionTokens: 100, promptOnly: false };

Deno.test("estimateTokens() charges the body over four plus max_completion_tokens or max_tokens", () => {
  assertEquals(estimateTokens(400, { max_tokens: 50 }, options), 150);
  assertEquals(estimateTokens(401, { max_tokens: 50, max_completion_tokens: 20 }, options), 121);
  assertEquals(estimateTokens(400, { max_tokens: 0 }, options), 100);
});

Deno.test("estimateTokens() charges the default completion when none is set or it is not a count", () => {
  assertEquals(estimateTokens(40, {}, options), 110);
  assertEquals(estimateTokens(40, { max_tokens: "9" }, options), 110);
  assertEquals(estimateTokens(40, { max_tokens: -1 }, options), 110);
  assertEquals(estimateTokens(40, null, options), 110);
});

Deno.test("estimateTokens() charges each of n choices, and no completion for embeddings", () => {
  assertEquals(estimateTokens(40, { max_tokens: 10, n: 3 }, options), 40);
  assertEquals(estimateTokens(40, { max_tokens: 10 }, { ...options, promptOnly: true }), 10);
});

import assert from "node:assert/strict";
import { contextOverflow, contextTokens, planCompaction } from "./policy.ts";
import type { CompressionPolicy } from "./types.ts";
import { item } from "./_testing.ts";

const policy: CompressionPolicy = {
  method: "sliding_window",
  budgetTokens: 1000,
  threshold: 0.8,
  target: 0.5,
  keepRecentTurns: 2,
};

Deno.test("planCompaction() compacts only past the threshold, down to the target", () => {
  assert.deepEqual(planCompaction(policy, 800), { compact: false, targetTokens: 500 });
  assert.deepEqual(planCompaction(policy, 801), { compact: true, targetTokens: 500 });
});

Deno.test("planCompaction() never compacts with method none", () => {
  assert.equal(planCompaction({ ...policy, method: "none" }, 5000).compact, false);
});

Deno.test("contextOverflow() reports a prompt over budget as context_length_exceeded", () => {
  assert.equal(contextOverflow({ ...policy, method: "none" }, 1000), null);
  const error = contextOverflow({ ...policy, method: "none" }, 1001);
  assert.equal(error?.status, 400);
  assert.equal(error?.code, "context_length_exceeded");
  assert.match(error?.message ?? "", /1001 tokens.*compression is off/);
  assert.match(contextOverflow(policy, 1200)?.message ?? "", /even after compression/);
});

Deno.test("contextTokens() adds the system prompt's tokens and the context's", () => {
  const system = [item({ role: "system", content: "x".repeat(40) }, 0, 0)];
  const context = [item({ role: "user", content: "hi" }, 1, 0)];
  assert.equal(contextTokens(system, context), system[0]!.tokens + context[0]!.tokens);
});

import { assertAlmostEquals, assertEquals, assertGreater, assertLess } from "./_assert.ts";
import { decodeStepMs, H100_LLAMA_8B, prefillAttentionMs, stepMs } from "./latency.ts";

Deno.test("a decode step reads the weights and every cached token once", () => {
  assertAlmostEquals(decodeStepMs(0), 16.1e9 / 3e12 * 1000, 1e-9);
  assertAlmostEquals(
    decodeStepMs(100_000) - decodeStepMs(0),
    100_000 * 131_072 / 3e12 * 1000,
    1e-9,
  );
});

Deno.test("a decode-only step costs the same however the context is split across sequences", () => {
  const one = stepMs([{ contextTokens: 8000, newTokens: 1, prefill: false }]);
  const split = stepMs([
    { contextTokens: 4000, newTokens: 1, prefill: false },
    { contextTokens: 3999, newTokens: 1, prefill: false },
  ]);
  assertAlmostEquals(one, split, 1e-9);
});

Deno.test("prefill on a cached prefix costs more than the same new tokens alone and less than the whole prompt", () => {
  const alone = stepMs([{ contextTokens: 0, newTokens: 512, prefill: true }]);
  const onPrefix = stepMs([{ contextTokens: 16384, newTokens: 512, prefill: true }]);
  const whole = stepMs([{ contextTokens: 0, newTokens: 16896, prefill: true }]);
  assertGreater(onPrefix, alone);
  assertLess(onPrefix * 10, whole);
  assertEquals(prefillAttentionMs(0, 100), H100_LLAMA_8B.attentionQuadMs * 100 * 100);
});

Deno.test("a step mixing prefill and decodes is never cheaper than the decode alone", () => {
  const decodes = Array.from(
    { length: 64 },
    () => ({ contextTokens: 20_000, newTokens: 1, prefill: false }),
  );
  const mixed = stepMs([...decodes, { contextTokens: 0, newTokens: 16, prefill: true }]);
  assertGreater(mixed, stepMs(decodes) - 1e-9);
});

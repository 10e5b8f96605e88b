import assert from "node:assert/strict";
import { backoffDelayMs, resolveBackoff, RestartWindow } from "./backoff.ts";

Deno.test("backoffDelayMs() doubles per attempt and stops at maxMs", () => {
  const b = resolveBackoff({ minMs: 100, maxMs: 1_000, randomFactor: 0 });
  assert.deepEqual([0, 1, 2, 3, 4, 10].map((n) => backoffDelayMs(b, n)), [
    100,
    200,
    400,
    800,
    1_000,
    1_000,
  ]);
});

Deno.test("backoffDelayMs() adds jitter of at most randomFactor", () => {
  const b = resolveBackoff({ minMs: 100, maxMs: 1_000, randomFactor: 0.5 });
  assert.equal(backoffDelayMs(b, 0, () => 0), 100);
  assert.equal(backoffDelayMs(b, 0, () => 0.999999), 150);
  assert.equal(backoffDelayMs(b, 1, () => 0.5), 250);
});

Deno.test("RestartWindow reports more than intensity restarts within the period", () => {
  const w = new RestartWindow(2, 1_000);
  assert.equal(w.record(0), false);
  assert.equal(w.record(100), false);
  assert.equal(w.record(200), true);
  assert.equal(w.count(1_150), 1, "restarts older than the period are forgotten");
  assert.equal(w.record(1_300), false);
});

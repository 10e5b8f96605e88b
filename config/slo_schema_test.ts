import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { SloSchema } from "./slo_schema.ts";

Deno.test("SloSchema fills in the window, interval and canary rules and keeps each model's objectives", () => {
  const slo = SloSchema.parse({ models: { m: { ttft_p95_ms: 500, error_rate: 0.01 } } });
  assertEquals(slo.window, 300);
  assertEquals(slo.evaluate_interval, 5);
  assertEquals(slo.canary_tolerance, 0.1);
  assertEquals(slo.models.m, { ttft_p95_ms: 500, error_rate: 0.01 });
});

Deno.test("SloSchema refuses a model without objectives, an error rate of 1 and unknown keys, naming the path", () => {
  const empty = SloSchema.safeParse({ models: { m: {} } });
  assert(!empty.success);
  assertEquals(empty.error.issues[0]?.path, ["models", "m"]);
  const rate = SloSchema.safeParse({ models: { m: { error_rate: 1 } } });
  assert(!rate.success);
  assertEquals(rate.error.issues[0]?.path, ["models", "m", "error_rate"]);
  const typo = SloSchema.safeParse({ models: { m: { ttft_p99_ms: 1 } } });
  assert(!typo.success);
});

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { quantile, summarize } from "./stats.ts";

Deno.test("quantile interpolates between the nearest ranks", () => {
  const sorted = [10, 20, 30, 40, 50];
  assertEquals(quantile(sorted, 0), 10);
  assertEquals(quantile(sorted, 0.5), 30);
  assertEquals(quantile(sorted, 0.9), 46);
  assertEquals(quantile(sorted, 1), 50);
  assertEquals(quantile([10, 20], 0.5), 15);
  assertEquals(quantile([7], 0.99), 7);
  assert(Number.isNaN(quantile([], 0.5)));
});

Deno.test("summarize gives count, mean and percentiles of unsorted values and leaves them unsorted", () => {
  const values = Array.from({ length: 101 }, (_, i) => 100 - i);
  assertEquals(summarize(values), { count: 101, mean: 50, p50: 50, p90: 90, p99: 99, max: 100 });
  assertEquals(values[0], 100);
  const empty = summarize([]);
  assertEquals(empty.count, 0);
  assert([empty.mean, empty.p50, empty.p99, empty.max].every(Number.isNaN));
});

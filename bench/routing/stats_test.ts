import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { cdf, imbalance, quantile, summarize } from "./stats.ts";

Deno.test("quantile interpolates between the nearest ranks", () => {
  const sorted = [10, 20, 30, 40, 50];
  assertEquals(quantile(sorted, 0), 10);
  assertEquals(quantile(sorted, 0.5), 30);
  assertEquals(quantile(sorted, 0.9), 46);
  assertEquals(quantile(sorted, 1), 50);
  assertEquals(quantile([7], 0.99), 7);
  assert(Number.isNaN(quantile([], 0.5)));
});

Deno.test("summarize gives mean and percentiles of unsorted values", () => {
  const values = Array.from({ length: 101 }, (_, i) => 100 - i);
  const s = summarize(values);
  assertEquals(s, { count: 101, mean: 50, p50: 50, p90: 90, p99: 99, max: 100 });
  assert(Number.isNaN(summarize([]).mean));
});

Deno.test("cdf runs from the minimum at share 0 to the maximum at share 1", () => {
  const points = cdf([3, 1, 2, 4], 4);
  assertEquals(points.length, 5);
  assertEquals(points[0], [1, 0]);
  assertEquals(points[4], [4, 1]);
  for (let i = 1; i < points.length; i++) assert(points[i]![0] >= points[i - 1]![0]);
  assertEquals(cdf([]), []);
});

Deno.test("imbalance is the maximum over the mean", () => {
  assertEquals(imbalance([1, 1, 1, 1]), 1);
  assertEquals(imbalance([4, 0, 0, 0]), 4);
  assertEquals(imbalance([3, 1]), 1.5);
  assertEquals(imbalance([]), 1);
  assertEquals(imbalance([0, 0]), 1);
});

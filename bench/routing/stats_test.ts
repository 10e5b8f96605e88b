import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { cdf, imbalance } from "./stats.ts";

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

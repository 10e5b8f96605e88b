import { assertEquals } from "./_assert.ts";
import { Histogram } from "./histogram.ts";

Deno.test("a histogram puts a value in the first bucket whose bound is not below it", () => {
  const h = new Histogram([1, 2]);
  for (const v of [0.5, 1, 1.5, 3]) h.observe(v);
  assertEquals(h.counts, [2, 1, 1]);
  assertEquals(h.count, 4);
  assertEquals(h.sum, 6);
});

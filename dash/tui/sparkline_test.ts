import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { sparkline } from "./sparkline.ts";

Deno.test("sparkline() scales from 0 to the largest value shown, pads on the left", () => {
  assertEquals(sparkline([0, 1, 2, 3, 4, 5, 6, 7], 10), "  ▁▂▃▄▅▆▇█");
  assertEquals(sparkline([1, null, 1], 3), "█ █");
  assertEquals(sparkline([0, 0], 2), "▁▁");
  assertEquals(sparkline([9, 9, 0, 4, 8], 3), "▁▅█");
});

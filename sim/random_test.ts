import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { mulberry32 } from "./random.ts";

Deno.test("mulberry32() repeats its sequence for a seed and stays in [0, 1)", () => {
  const a = mulberry32(42);
  const b = mulberry32(42);
  const draws = Array.from({ length: 1000 }, () => a());
  assertEquals(draws, Array.from({ length: 1000 }, () => b()));
  assert(draws.every((x) => x >= 0 && x < 1));
  assert(mulberry32(43)() !== draws[0]);
});

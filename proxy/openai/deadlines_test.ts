import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { Deadlines } from "./deadlines.ts";

Deno.test("Deadlines fires a due deadline once and stops its timer when none is left", async () => {
  const deadlines = new Deadlines({ tickMs: 5 });
  const fired: string[] = [];
  deadlines.add(10, () => fired.push("a"));
  const b = deadlines.add(10, () => fired.push("b"));
  deadlines.add(10_000, () => fired.push("late"));
  deadlines.remove(b);
  await new Promise((resolve) => setTimeout(resolve, 60));
  assertEquals(fired, ["a"]);
  assertEquals(deadlines.size, 1);
  deadlines.clear();
  assertEquals(deadlines.size, 0);
  // A timer left with nothing to check stops itself at its next tick.
  const lone = deadlines.add(10_000, () => fired.push("never"));
  deadlines.remove(lone);
  await new Promise((resolve) => setTimeout(resolve, 30));
  assertEquals(deadlines.size, 0);
});

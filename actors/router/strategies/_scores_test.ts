import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { BoundedLoads, inverseScores } from "./_scores.ts";
import { view } from "./_testing.ts";

Deno.test("inverseScores gives the cheapest 1 and the others (min + 1) / (cost + 1)", () => {
  assertEquals(inverseScores([1, 3, 0]), [0.5, 0.25, 1]);
  assertEquals(inverseScores([]), []);
});

Deno.test("BoundedLoads scores the candidates by load and bounds them by the mean, reusing its arrays", () => {
  const bounded = new BoundedLoads();
  // Costs 0, 1 and 8: mean 3, bound 1.5 x 3 + 1 = 5.5.
  const three = [view("a"), view("b", { inFlight: 1 }), view("c", { inFlight: 8 })];
  const first = bounded.measure(three, 0, 1.5);
  assertEquals(first.scoreList(), inverseScores([0, 1, 8]));
  assertEquals([...first.within.subarray(0, 3)], [1, 1, 0]);
  // More candidates than its arrays had room for, then fewer again.
  const many = Array.from({ length: 40 }, (_, i) => view(`r${i}`, { inFlight: i % 2 }));
  assertEquals(
    bounded.measure(many, 0, 1.5).scoreList(),
    inverseScores(many.map((c) => c.inFlight)),
  );
  assertEquals(bounded.measure(three.slice(0, 2), 0, 1.5).scoreList(), [1, 0.5]);
});

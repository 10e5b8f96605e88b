import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { roundRobin } from "./round_robin.ts";
import { options, request, view } from "./_testing.ts";

Deno.test("round_robin scores the next id in turn and wraps around", () => {
  const s = roundRobin(options());
  const cs = [view("b"), view("a"), view("c")];
  assertEquals(s.score(request(), cs), [0, 1, 0]);
  s.observe!(request(), cs[1]!);
  assertEquals(s.score(request(), cs), [1, 0, 0]);
  s.observe!(request(), cs[0]!);
  assertEquals(s.score(request(), cs), [0, 0, 1]);
  s.observe!(request(), cs[2]!);
  assertEquals(s.score(request(), cs), [0, 1, 0]);
});

Deno.test("round_robin keeps its turn when the chosen backend leaves", () => {
  const s = roundRobin(options());
  s.observe!(request(), view("b"));
  assertEquals(s.score(request(), [view("a"), view("c")]), [0, 1]);
  assertEquals(s.score(request(), []), []);
});

import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import { medianRun, rotated } from "./rounds.ts";
import { fixtureRun } from "./_testing.ts";

Deno.test("rotated() puts every item in every position once over as many rounds", () => {
  const items = ["a", "b", "c"];
  assertEquals([0, 1, 2, 3].map((round) => rotated(items, round)), [
    ["a", "b", "c"],
    ["b", "c", "a"],
    ["c", "a", "b"],
    ["a", "b", "c"],
  ]);
  assertEquals(rotated([], 2), []);
});

Deno.test("medianRun() reports each figure as the median of the rounds, failures summed", () => {
  // Mean TTFTs 2, 25 (a stalled round, its first request failed) and 4 ms; hits 30, 50, 40 of 100.
  const rounds = [
    fixtureRun("s", 1, 30),
    fixtureRun("s", 10, 50, { failed: true }),
    fixtureRun("s", 2, 40),
  ];
  const run = medianRun(rounds);
  assertEquals(run.ttftMs.mean, 4);
  assertEquals(run.ttftMs.p99, rounds[2]!.ttftMs.p99);
  assertEquals(run.ttftMs.max, 6);
  assertEquals(run.hitRate, 0.4);
  assertEquals(run.failed, 1);
  assertEquals(run.errors, ["HTTP 503"]);
  // The picture's CDF is the median round's, not a mixture.
  assertEquals(run.ttftCdf, rounds[2]!.ttftCdf);
  assertEquals(run.rounds!.map((r) => [r.round, r.meanTtftMs, r.failed]), [
    [1, 2, 0],
    [2, 25, 1],
    [3, 4, 0],
  ]);
});

Deno.test("medianRun() of one round is that round, and of none an error", () => {
  const only = fixtureRun("s", 1, 30);
  assertEquals(medianRun([only]), only);
  assertThrows(() => medianRun([]), /at least one round/);
});

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { formatCount, formatDuration, formatMs, formatPercent } from "./format.ts";

Deno.test("formatMs() keeps a decimal under 10 ms and turns to seconds from 1 s", () => {
  assertEquals([0.84, 9.96, 42.4, 999, 3_140, 12_000, null].map(formatMs), [
    "0.8 ms",
    "10 ms",
    "42 ms",
    "999 ms",
    "3.1 s",
    "12 s",
    "-",
  ]);
});

Deno.test("formatPercent(), formatDuration() and formatCount() read at a glance", () => {
  assertEquals([0.374, 1, null].map(formatPercent), ["37%", "100%", "-"]);
  assertEquals([45, 125, 3 * 3600 + 5 * 60, 2 * 86_400 + 4 * 3600].map(formatDuration), [
    "45s",
    "2m",
    "3h05m",
    "2d04h",
  ]);
  assertEquals([7, 12_345, 4_100_000].map(formatCount), ["7", "12.3k", "4.1M"]);
});

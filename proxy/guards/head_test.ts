import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { headProblem } from "./head.ts";

Deno.test("headProblem refuses too many headers and too many header bytes", () => {
  const limits = { maxHeaderCount: 3, maxHeaderBytes: 40 };
  const verdict = (pairs: [string, string][]) =>
    headProblem(new Headers(pairs), limits)?.split(",")[0];
  assertEquals(verdict([["a", "1"], ["b", "2"], ["c", "3"]]), undefined);
  assertEquals(
    verdict([["a", "1"], ["b", "2"], ["c", "3"], ["d", "4"]]),
    "The request carries 4 headers",
  );
  assertEquals(verdict([["a", "x".repeat(40)]]), "The request's headers are 45 bytes");
});

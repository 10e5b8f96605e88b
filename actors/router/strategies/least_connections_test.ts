import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { leastConnections } from "./least_connections.ts";
import { options, request, view } from "./_testing.ts";

Deno.test("least_connections scores the fewest in-flight requests highest", () => {
  const s = leastConnections(options());
  const scores = s.score(request(), [
    view("a", { inFlight: 3 }),
    view("b", { inFlight: 0 }),
    view("c", { inFlight: 1 }),
  ]);
  assertEquals(scores, [0.25, 1, 0.5]);
});

Deno.test("least_connections gives equal scores to equally busy backends", () => {
  const s = leastConnections(options());
  assertEquals(s.score(request(), [view("a", { inFlight: 2 }), view("b", { inFlight: 2 })]), [
    1,
    1,
  ]);
});

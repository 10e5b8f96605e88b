import assert from "node:assert/strict";
import { sessionsByBackend } from "./fleet_routing.ts";

Deno.test("sessionsByBackend() counts each session once, for the backend its newest request went to", () => {
  const counts = sessionsByBackend([
    { sessionId: "s1", backendId: "b" },
    { sessionId: "s2", backendId: "a" },
    { sessionId: "s1", backendId: "a" },
    { sessionId: undefined, backendId: "a" },
    { sessionId: "s3", backendId: undefined },
    { sessionId: "s4", backendId: "b" },
  ]);
  assert.deepStrictEqual(Object.fromEntries(counts), { a: 1, b: 2 });
});

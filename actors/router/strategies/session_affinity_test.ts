import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { sessionAffinity } from "./session_affinity.ts";
import { options, request, view } from "./_testing.ts";

Deno.test("session_affinity sends a new session to the least busy replica", () => {
  const s = sessionAffinity(options());
  const scores = s.score(request([], "s1"), [view("a", { inFlight: 2 }), view("b")]);
  assertEquals(scores[1], 1);
  assert(scores[0]! < 1);
});

Deno.test("session_affinity keeps a session on its replica while within the load bound", () => {
  const s = sessionAffinity(options({ loadBound: 1.5 }));
  s.observe!(request([], "s1"), view("a"));
  // Mean load 1, bound 1.5 * 1 + 1 = 2.5: a with 2 in flight stays home.
  const scores = s.score(request([], "s1"), [view("a", { inFlight: 2 }), view("b")]);
  assertEquals(scores, [1, 0.5]);
});

Deno.test("session_affinity sheds a session whose replica is past the load bound", () => {
  const s = sessionAffinity(options({ loadBound: 1.5 }));
  s.observe!(request([], "s1"), view("a"));
  // Mean load 2.5, bound 4.75: a with 5 in flight sheds; b scores best.
  const scores = s.score(request([], "s1"), [view("a", { inFlight: 5 }), view("b")]);
  assert(scores[1]! > scores[0]!);
  assert(scores[1]! < 1);
});

Deno.test("session_affinity forgets the sessions of a retired replica", () => {
  const s = sessionAffinity(options());
  s.observe!(request([], "s1"), view("a"));
  s.forget!("a");
  assertEquals(s.score(request([], "s1"), [view("a"), view("b")]), [1, 1]);
});

Deno.test("session_affinity treats requests without a session by load alone", () => {
  const s = sessionAffinity(options());
  s.observe!(request(), view("a"));
  assertEquals(s.score(request(), [view("a", { inFlight: 1 }), view("b")]), [0.5, 1]);
});

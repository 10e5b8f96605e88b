import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { leastLatency } from "./least_latency.ts";
import { options, request, view } from "./_testing.ts";

Deno.test("least_latency prefers the backend with the lower EWMA TTFT", () => {
  const s = leastLatency(options());
  const [slow, fast] = s.score(request(), [
    view("a", { ewmaTtftMs: 400 }),
    view("b", { ewmaTtftMs: 100 }),
  ]);
  assertEquals(fast, 1);
  assert(slow! < 0.3);
});

Deno.test("least_latency weighs a fast backend's TTFT by its in-flight requests", () => {
  const s = leastLatency(options());
  const [busyFast, idleSlow] = s.score(request(), [
    view("a", { ewmaTtftMs: 100, inFlight: 4 }),
    view("b", { ewmaTtftMs: 200, inFlight: 0 }),
  ]);
  assertEquals(idleSlow, 1);
  assert(busyFast! < 1);
});

Deno.test("least_latency treats a backend without samples as fast as the fastest", () => {
  const s = leastLatency(options());
  assertEquals(s.score(request(), [view("a", { ewmaTtftMs: 50 }), view("b")]), [1, 1]);
});

Deno.test("least_latency sends an idle backend's share by its (decayed) EWMA, not its history", () => {
  const s = leastLatency(options());
  // The backend actor has faded a's once-slow EWMA to below b's.
  assertEquals(
    s.score(request(), [view("a", { ewmaTtftMs: 80 }), view("b", { ewmaTtftMs: 100 })])[0],
    1,
  );
});

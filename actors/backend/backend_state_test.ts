import { deepStrictEqual as assertEquals } from "node:assert/strict";
import {
  backendAcquired,
  backendProbed,
  backendProbeTimedOut,
  backendReleased,
  backendReport,
  backendScraped,
  backendTick,
  newBackendState,
  replicaBusy,
} from "./backend_state.ts";

const options = { failureThreshold: 2, openMs: 500, ewma: { alpha: 0.5, halfLifeMs: 60_000 } };
const fresh = () =>
  newBackendState({ id: "a", model: "m", url: "http://127.0.0.1:1/", source: "static" });

Deno.test("a new backend is not eligible until a probe says it is healthy", () => {
  const s = fresh();
  assertEquals(s.url, "http://127.0.0.1:1");
  assertEquals(backendReport(s, 0, options).eligible, false);
  assertEquals(backendReport(backendProbed(s, true, 0, options), 0, options).eligible, true);
});

Deno.test("failed requests open the circuit and a healthy half-open probe closes it", () => {
  let s = backendProbed(fresh(), true, 0, options);
  s = backendAcquired(backendAcquired(s));
  s = backendReleased(s, { ok: false, error: "HTTP 500" }, 10, options);
  s = backendReleased(s, { ok: false, error: "HTTP 502" }, 20, options);
  let r = backendReport(s, 20, options);
  assertEquals([r.circuit, r.eligible, r.inFlight, r.failed, r.lastError], [
    "open",
    false,
    0,
    2,
    "HTTP 502",
  ]);
  s = backendTick(s, 600, options);
  assertEquals(backendReport(s, 600, options).circuit, "half_open");
  s = backendProbed(s, true, 610, options);
  r = backendReport(s, 610, options);
  assertEquals([r.circuit, r.eligible], ["closed", true]);
});

Deno.test("a failed half-open probe reopens the circuit", () => {
  let s = backendProbed(fresh(), false, 0, options);
  s = backendProbed(s, false, 1, options);
  s = backendTick(s, 600, options);
  s = backendProbed(s, false, 601, options, "connection refused");
  const r = backendReport(s, 601, options);
  assertEquals([r.circuit, r.healthy, r.lastError], ["open", false, "connection refused"]);
});

Deno.test("successful requests feed the EWMAs and aborted ones count for nothing", () => {
  let s = backendProbed(fresh(), true, 0, options);
  s = backendReleased(backendAcquired(s), { ok: true, ttftMs: 10, totalMs: 100 }, 0, options);
  s = backendReleased(backendAcquired(s), { ok: true, ttftMs: 30, totalMs: 300 }, 0, options);
  s = backendReleased(backendAcquired(s), { ok: false, aborted: true }, 0, options);
  const r = backendReport(s, 0, options);
  assertEquals([r.ewmaTtftMs, r.ewmaLatencyMs, r.completed, r.failed, r.circuit], [
    20,
    200,
    2,
    0,
    "closed",
  ]);
});

Deno.test("a scrape is reported as the backend's load", () => {
  const metrics = {
    running: 1,
    waiting: 2,
    kvUsage: 0.5,
    scrapedAtMs: 9,
    prefixQueries: undefined,
    prefixHits: undefined,
  };
  const s = backendScraped(fresh(), metrics);
  assertEquals(backendReport(s, 9, options).metrics, metrics);
});

/** A healthy backend whose last scrape, at `scrapedAtMs`, showed `running` and `waiting` requests. */
function scrapedBusy(running: number, waiting: number, scrapedAtMs: number) {
  const s = backendProbed(fresh(), true, 0, options);
  return backendScraped(s, {
    running,
    waiting,
    kvUsage: 0.2,
    scrapedAtMs,
    prefixQueries: 0,
    prefixHits: 0,
  });
}

Deno.test("timeouts on a replica its metrics show busy do not count against its circuit", () => {
  let s = scrapedBusy(28, 40, 1_000);
  for (let i = 0; i < 5; i++) {
    s = backendReleased(s, { ok: false, timedOut: true, error: "request timeout" }, 2_000, options);
  }
  const r = backendReport(s, 2_000, options);
  assertEquals([r.circuit, r.eligible, r.failed, r.lastError], [
    "closed",
    true,
    0,
    "request timeout (busy)",
  ]);
  assertEquals(replicaBusy(s, 2_000, options), true);
});

Deno.test("timeouts on an idle replica, or with stale metrics, still open its circuit", () => {
  let idle = scrapedBusy(0, 0, 1_000);
  let stale = scrapedBusy(28, 40, 1_000);
  for (let i = 0; i < 2; i++) {
    idle = backendReleased(idle, { ok: false, timedOut: true }, 2_000, options);
    stale = backendReleased(stale, { ok: false, timedOut: true }, 60_000, options);
  }
  assertEquals(backendReport(idle, 2_000, options).circuit, "open");
  assertEquals(backendReport(stale, 60_000, options).circuit, "open");
  // Connection failures and 5xx count whatever the load.
  let busy = scrapedBusy(28, 40, 1_000);
  busy = backendReleased(busy, { ok: false, error: "HTTP 500" }, 2_000, options);
  busy = backendReleased(busy, { ok: false, error: "connect refused" }, 2_000, options);
  assertEquals(backendReport(busy, 2_000, options).circuit, "open");
});

Deno.test("a health probe that times out while the replica is busy does not mark it down", () => {
  const busy = backendProbeTimedOut(scrapedBusy(3, 0, 1_000), 2_000, options, "no answer");
  assertEquals([busy.healthy, busy.circuit.consecutiveFailures], [true, 0]);
  const idle = backendProbeTimedOut(scrapedBusy(0, 0, 1_000), 2_000, options, "no answer");
  assertEquals([idle.healthy, idle.circuit.consecutiveFailures], [false, 1]);
  const fullKv = backendScraped(backendProbed(fresh(), true, 0, options), {
    running: 0,
    waiting: 0,
    kvUsage: 0.95,
    scrapedAtMs: 1_000,
    prefixQueries: 0,
    prefixHits: 0,
  });
  assertEquals(backendProbeTimedOut(fullKv, 2_000, options, "no answer").healthy, true);
});

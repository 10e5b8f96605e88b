import { deepStrictEqual as assertEquals } from "node:assert/strict";
import {
  backendAcquired,
  backendProbed,
  backendReleased,
  backendReport,
  backendScraped,
  backendTick,
  newBackendState,
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

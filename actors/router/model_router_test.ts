import { deepStrictEqual as assertEquals } from "node:assert/strict";
import type { BackendReport } from "../backend/backend_state.ts";
import { ModelRouter } from "./model_router.ts";
import { createPicker, strategyOptions } from "./strategies/mod.ts";
import type { RequestFeatures } from "./strategies/types.ts";

const proxy = { load_bound: 1.5, prefix_block_chars: 2048, prefix_cache_tokens: 430_000 };
const request: RequestFeatures = {
  model: "m",
  sessionId: undefined,
  prefixHashes: [],
  promptChars: 10,
};

function report(id: string, eligible: boolean): BackendReport {
  return {
    id,
    model: "m",
    url: `http://127.0.0.1/${id}`,
    source: "static",
    eligible,
    healthy: eligible,
    circuit: "closed",
    ewmaTtftMs: undefined,
    ewmaLatencyMs: undefined,
    metrics: undefined,
    inFlight: 0,
    completed: 0,
    failed: 0,
    lastError: undefined,
  };
}

function router(strategy: "round_robin" | "least_connections") {
  return new ModelRouter("m", createPicker(strategy, strategyOptions(proxy)));
}

Deno.test("pick() takes only eligible backends and skips excluded ones", () => {
  const r = router("round_robin");
  r.report(report("a", true));
  r.report(report("b", false));
  r.report(report("c", true));
  assertEquals(r.eligibleCount, 2);
  const picks = new Set([0, 1, 2, 3].map(() => r.pick(request)?.id));
  assertEquals([...picks].sort(), ["a", "c"]);
  assertEquals(r.pick(request, new Set(["a"]))?.id, "c");
  assertEquals(r.pick(request, new Set(["a", "c"])), undefined);
});

Deno.test("acquire() and release() move the in-flight count the strategies see", () => {
  const r = router("least_connections");
  r.report(report("a", true));
  r.report(report("b", true));
  const first = r.pick(request);
  if (!first) throw new Error("expected a backend");
  r.acquire(first);
  const second = r.pick(request);
  assertEquals(second !== undefined && second.id !== first.id, true);
  r.release(first);
  assertEquals(first.inFlight, 0);
});

Deno.test("a backend that turns ineligible or is removed stops being picked", () => {
  const r = router("round_robin");
  r.report(report("a", true));
  r.report(report("b", true));
  r.report(report("a", false));
  assertEquals([r.pick(request)?.id, r.pick(request)?.id], ["b", "b"]);
  assertEquals(r.remove("b"), true);
  assertEquals(r.remove("b"), false);
  assertEquals(r.pick(request), undefined);
  assertEquals(r.list().map((b) => b.view.id), ["a"]);
});

Deno.test("the views compare streamed TTFTs when any backend has one, else whole-answer latencies", () => {
  const r = router("round_robin");
  r.report({ ...report("a", true), ewmaLatencyMs: 900 });
  r.report({ ...report("b", true), ewmaLatencyMs: 100 });
  const times = () => r.list().map((b) => [b.view.id, b.view.ewmaTtftMs]);
  assertEquals(times(), [["a", 900], ["b", 100]]);
  r.report({ ...report("b", true), ewmaLatencyMs: 100, ewmaTtftMs: 20 });
  assertEquals(times(), [["a", undefined], ["b", 20]]);
});

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { hitRates, measureRun, parseCounters } from "./measure.ts";
import type { RequestResult } from "./replay.ts";

Deno.test("parseCounters sums samples by name over label sets, without buckets", () => {
  const page = [
    "# HELP vllm:prefix_cache_queries_total Prefix cache queries.",
    "# TYPE vllm:prefix_cache_queries_total counter",
    'vllm:prefix_cache_queries_total{model_name="a"} 1000',
    'vllm:prefix_cache_queries_total{model_name="b"} 24',
    'vllm:prefix_cache_hits_total{model_name="a"} 512',
    "vllm:prefix_cache_hits_total 1.5e2",
    'vllm:time_to_first_token_seconds_bucket{model_name="a",le="0.1"} 4',
    'vllm:time_to_first_token_seconds_sum{model_name="a"} 2.5',
    "vllm:num_requests_running 3",
  ].join("\n");
  assertEquals(parseCounters(page), {
    "vllm:prefix_cache_queries_total": 1024,
    "vllm:prefix_cache_hits_total": 662,
    "vllm:time_to_first_token_seconds_sum": 2.5,
    "vllm:num_requests_running": 3,
  });
  assertEquals(parseCounters(""), {});
});

function result(
  index: number,
  backend: string,
  ttftMs: number,
  e2eMs: number,
  error?: string,
): RequestResult {
  return {
    index,
    sentMs: index * 10,
    ttftMs: error ? undefined : ttftMs,
    e2eMs: error ? undefined : e2eMs,
    outputTokens: error ? 0 : 10,
    backend,
    error,
  };
}

Deno.test("measureRun summarises latency, throughput, hits and balance", () => {
  const run = measureRun({
    requests: [
      result(0, "a", 100, 1000),
      result(1, "a", 300, 3000),
      result(2, "b", 200, 2000),
      result(3, "b", 0, 0, "HTTP 500"),
    ],
    itlMs: [5, 10, 15],
    durationMs: 2000,
  }, {
    strategy: "x",
    backends: ["a", "b", "c"],
    before: { "vllm:prefix_cache_queries_total": 100, "vllm:prefix_cache_hits_total": 10 },
    after: {
      "vllm:prefix_cache_queries_total": 1100,
      "vllm:prefix_cache_hits_total": 410,
      "vllm:time_to_first_token_seconds_sum": 0.6,
      "vllm:time_to_first_token_seconds_count": 3,
      "vllm:num_preemptions_total": 2,
    },
  });
  assertEquals(run.failed, 1);
  assertEquals(run.errors, ["HTTP 500"]);
  assertEquals(run.ttftMs.mean, 200);
  assertEquals(run.itlMs.p50, 10);
  assertEquals(run.requestsPerS, 1.5);
  assertEquals(run.outputTokensPerS, 15);
  assertEquals(run.hitRate, 0.4);
  assertEquals(run.backendRequests, { a: 2, b: 1, c: 0 });
  assertEquals(run.backendBusyS, { a: 4, b: 2, c: 0 });
  assertEquals(run.requestImbalance, 2);
  assertEquals(run.busyImbalance, 2);
  assertEquals(run.replicas, 3);
  assertEquals(Math.round(run.replicaView.ttftMeanMs), 200);
  assertEquals(run.replicaView.preemptions, 2);
  // The slowest 1% (here one of three answered): the 300 ms one, never the failed one.
  assertEquals(run.slowest.map((r) => [r.index, r.ttftMs, r.backend]), [[1, 300, "a"]]);
});

Deno.test("hitRates adds the GPU and host-tier hit rates into the combined one", () => {
  const before = {
    "vllm:prefix_cache_queries_total": 1000,
    "vllm:prefix_cache_hits_total": 100,
    "vllm:external_prefix_cache_queries_total": 1000,
    "vllm:external_prefix_cache_hits_total": 50,
  };
  const after = {
    "vllm:prefix_cache_queries_total": 3000,
    "vllm:prefix_cache_hits_total": 600,
    "vllm:external_prefix_cache_queries_total": 3000,
    "vllm:external_prefix_cache_hits_total": 850,
  };
  assertEquals(hitRates(before, after), { local: 0.25, external: 0.4, combined: 0.65 });
  // Replicas without a host tier count no external queries: the combined rate is the GPU's.
  const plain = { "vllm:prefix_cache_queries_total": 200, "vllm:prefix_cache_hits_total": 50 };
  assertEquals(hitRates({}, plain), { local: 0.25, external: 0, combined: 0.25 });
  const run = measureRun({ requests: [], itlMs: [], durationMs: 1000 }, {
    strategy: "x",
    backends: ["a"],
    before,
    after,
  });
  assertEquals([run.localHitRate, run.externalHitRate, run.hitRate], [0.25, 0.4, 0.65]);
});

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { parsePrometheus, parseVllmMetrics } from "./vllm_metrics.ts";

const text = `# HELP vllm:num_requests_running Number of requests running.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 3.0
vllm:num_requests_waiting{engine="0",model_name="m"} 2
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.25
vllm:gpu_cache_usage_perc{model_name="m"} 0.9
vllm:prefix_cache_queries_total{model_name="m"} 1000
vllm:prefix_cache_hits_total{model_name="m"} 400
vllm:time_to_first_token_seconds_bucket{le="0.1",model_name="m"} 5
`;

Deno.test("parsePrometheus keeps one sample per label set and skips comments", () => {
  const samples = parsePrometheus(
    text + 'vllm:num_requests_running{engine="1"} 4\nbroken line here\n',
  );
  assertEquals(samples.get("vllm:num_requests_running"), [3, 4]);
  assertEquals(samples.get("vllm:time_to_first_token_seconds_bucket"), [5]);
  assertEquals(samples.has("broken"), false);
});

const twoEngines = `vllm:num_requests_running{engine="0",model_name="m"} 3
vllm:num_requests_running{engine="1",model_name="m"} 4
vllm:num_requests_waiting{engine="0",model_name="m"} 1
vllm:num_requests_waiting{engine="1",model_name="m"} 2
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.5
vllm:kv_cache_usage_perc{engine="1",model_name="m"} 0.5
vllm:prefix_cache_queries_total{engine="0",model_name="m"} 100
vllm:prefix_cache_queries_total{engine="1",model_name="m"} 300
vllm:prefix_cache_hits_total{engine="0",model_name="m"} 10
vllm:prefix_cache_hits_total{engine="1",model_name="m"} 30
`;

Deno.test("parseVllmMetrics sums requests and counters over engines but not KV usage", () => {
  assertEquals(parseVllmMetrics(twoEngines, 7), {
    running: 7,
    waiting: 3,
    kvUsage: 0.5,
    scrapedAtMs: 7,
    prefixQueries: 400,
    prefixHits: 40,
  });
});

Deno.test("parseVllmMetrics takes the fullest engine's KV usage", () => {
  const uneven = twoEngines.replace(
    'engine="1",model_name="m"} 0.5',
    'engine="1",model_name="m"} 0.9',
  );
  assertEquals(parseVllmMetrics(uneven, 0)?.kvUsage, 0.9);
});

Deno.test("parseVllmMetrics reads kv_cache_usage_perc before the older gpu_cache_usage_perc", () => {
  const m = parseVllmMetrics(text, 42);
  assertEquals(m, {
    running: 3,
    waiting: 2,
    kvUsage: 0.25,
    scrapedAtMs: 42,
    prefixQueries: 1000,
    prefixHits: 400,
  });
});

Deno.test("parseVllmMetrics falls back to gpu_cache_usage_perc on older vLLM", () => {
  const old =
    "vllm:num_requests_running 1\nvllm:num_requests_waiting 0\nvllm:gpu_cache_usage_perc 0.5\n";
  assertEquals(parseVllmMetrics(old, 0)?.kvUsage, 0.5);
});

Deno.test("parseVllmMetrics returns undefined for text that is not vLLM's", () => {
  assertEquals(parseVllmMetrics("process_cpu_seconds_total 12\n", 0), undefined);
  assertEquals(parseVllmMetrics("", 0), undefined);
});

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

Deno.test("parsePrometheus sums samples per name and skips comments", () => {
  const sums = parsePrometheus(
    text + 'vllm:num_requests_running{engine="1"} 4\nbroken line here\n',
  );
  assertEquals(sums.get("vllm:num_requests_running"), 7);
  assertEquals(sums.get("vllm:time_to_first_token_seconds_bucket"), 5);
  assertEquals(sums.has("broken"), false);
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

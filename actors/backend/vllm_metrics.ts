/** Parses a vLLM replica's Prometheus `/metrics` text into the load figures the router reads. */
import type { ScrapedLoad } from "../router/strategies/types.ts";

/** Load figures plus the prefix-cache counters, summed over label sets. */
export interface VllmMetrics extends ScrapedLoad {
  /** `vllm:prefix_cache_queries_total`, undefined when the replica does not export it. */
  prefixQueries: number | undefined;
  /** `vllm:prefix_cache_hits_total`, undefined when the replica does not export it. */
  prefixHits: number | undefined;
}

/** Sums of every sample per metric name in Prometheus text format (labels ignored). */
export function parsePrometheus(text: string): Map<string, number> {
  const sums = new Map<string, number>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const brace = line.indexOf("{");
    let name: string;
    let rest: string;
    if (brace >= 0) {
      const close = line.lastIndexOf("}");
      if (close < brace) continue;
      name = line.slice(0, brace);
      rest = line.slice(close + 1);
    } else {
      const space = line.search(/\s/);
      if (space < 0) continue;
      name = line.slice(0, space);
      rest = line.slice(space);
    }
    const valueText = rest.trim().split(/\s+/)[0];
    if (valueText === undefined || valueText === "") continue;
    const value = Number(valueText);
    if (Number.isNaN(value)) continue;
    sums.set(name, (sums.get(name) ?? 0) + value);
  }
  return sums;
}

/**
 * Reads vLLM's names from `/metrics` text: running and waiting requests, and KV usage from
 * `vllm:kv_cache_usage_perc`, falling back to the older `vllm:gpu_cache_usage_perc`.
 * Returns undefined when the text has neither running nor waiting counts (not a vLLM replica).
 */
export function parseVllmMetrics(text: string, scrapedAtMs: number): VllmMetrics | undefined {
  const sums = parsePrometheus(text);
  const running = sums.get("vllm:num_requests_running");
  const waiting = sums.get("vllm:num_requests_waiting");
  if (running === undefined && waiting === undefined) return undefined;
  const kvUsage = sums.get("vllm:kv_cache_usage_perc") ?? sums.get("vllm:gpu_cache_usage_perc") ??
    0;
  return {
    running: running ?? 0,
    waiting: waiting ?? 0,
    kvUsage: Math.min(1, Math.max(0, kvUsage)),
    scrapedAtMs,
    prefixQueries: sums.get("vllm:prefix_cache_queries_total"),
    prefixHits: sums.get("vllm:prefix_cache_hits_total"),
  };
}

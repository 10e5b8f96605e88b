/** Parses a vLLM replica's Prometheus `/metrics` text into the load figures the router reads. */
import type { ScrapedLoad } from "./scraped_load.ts";

/** Load figures plus the prefix-cache counters, summed over engines. */
export interface VllmMetrics extends ScrapedLoad {
  /** `vllm:prefix_cache_queries_total`, undefined when the replica does not export it. */
  prefixQueries: number | undefined;
  /** `vllm:prefix_cache_hits_total`, undefined when the replica does not export it. */
  prefixHits: number | undefined;
}

/**
 * The samples of each metric name in Prometheus text format, one value per label set (a vLLM
 * replica with several engines exports one per `engine="N"`), in the order they appear.
 */
export function parsePrometheus(text: string): Map<string, number[]> {
  const samples = new Map<string, number[]>();
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
    const values = samples.get(name);
    if (values) values.push(value);
    else samples.set(name, [value]);
  }
  return samples;
}

function sum(values: number[] | undefined): number | undefined {
  return values?.reduce((total, v) => total + v, 0);
}

function max(values: number[] | undefined): number | undefined {
  return values === undefined ? undefined : Math.max(...values);
}

/**
 * Reads vLLM's names from `/metrics` text: running and waiting requests and the prefix-cache
 * counters, summed over engines, and KV usage from `vllm:kv_cache_usage_perc` (falling back to the
 * older `vllm:gpu_cache_usage_perc`). KV usage is a share per engine, so a replica's is its
 * fullest engine's (the max over label sets): a request may land on that engine, and routing on
 * the mean would hide a full one behind an idle one. Returns undefined when the text has neither
 * running nor waiting counts (not a vLLM replica).
 */
export function parseVllmMetrics(text: string, scrapedAtMs: number): VllmMetrics | undefined {
  const samples = parsePrometheus(text);
  const running = sum(samples.get("vllm:num_requests_running"));
  const waiting = sum(samples.get("vllm:num_requests_waiting"));
  if (running === undefined && waiting === undefined) return undefined;
  const kvUsage = max(samples.get("vllm:kv_cache_usage_perc")) ??
    max(samples.get("vllm:gpu_cache_usage_perc")) ?? 0;
  return {
    running: running ?? 0,
    waiting: waiting ?? 0,
    kvUsage: Math.min(1, Math.max(0, kvUsage)),
    scrapedAtMs,
    prefixQueries: sum(samples.get("vllm:prefix_cache_queries_total")),
    prefixHits: sum(samples.get("vllm:prefix_cache_hits_total")),
  };
}

/** Parses a vLLM replica's Prometheus `/metrics` text into the load figures the router reads. */
import type { ScrapedLoad } from "./scraped_load.ts";

/** Load figures plus the prefix-cache counters, summed over engines. */
export interface VllmMetrics extends ScrapedLoad {
  /** `vllm:prefix_cache_queries_total`, undefined when the replica does not export it. */
  prefixQueries: number | undefined;
  /** `vllm:prefix_cache_hits_total`, undefined when the replica does not export it. */
  prefixHits: number | undefined;
  /** `vllm:num_preemptions_total`, when the replica exports it. */
  preemptions?: number;
  /** `vllm:request_queue_time_seconds` histogram's `_sum` and `_count`, when the replica exports it. */
  queueTimeSumS?: number;
  queueTimeCount?: number;
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

/** The value of label `name` in a Prometheus label set such as `{a="1",b="x"}`. */
function labelValue(labels: string, name: string): string | undefined {
  const match = new RegExp(`(?:^|[{,])\\s*${name}="([^"]*)"`).exec(labels);
  return match?.[1];
}

/**
 * The KV capacity in tokens that the labels of `vllm:cache_config_info` give (`num_gpu_blocks`
 * times `block_size`; vLLM exports the cache config as an info gauge, one series per engine),
 * summed over engines; undefined when the text has no such series.
 */
export function parseKvCapacity(text: string): number | undefined {
  const name = "vllm:cache_config_info{";
  let total: number | undefined;
  for (let at = text.indexOf(name); at >= 0; at = text.indexOf(name, at + name.length)) {
    if (at > 0 && text[at - 1] !== "\n") continue;
    const close = text.indexOf("}", at);
    if (close < 0) break;
    const labels = text.slice(at + name.length - 1, close + 1);
    const blocks = Number(labelValue(labels, "num_gpu_blocks"));
    const blockSize = Number(labelValue(labels, "block_size"));
    if (blocks > 0 && blockSize > 0) total = (total ?? 0) + blocks * blockSize;
  }
  return total;
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
 * the mean would hide a full one behind an idle one; KV capacity from `vllm:cache_config_info`
 * (see {@linkcode parseKvCapacity}). Returns undefined when the text has neither
 * running nor waiting counts (not a vLLM replica).
 */
export function parseVllmMetrics(text: string, scrapedAtMs: number): VllmMetrics | undefined {
  const samples = parsePrometheus(text);
  const running = sum(samples.get("vllm:num_requests_running"));
  const waiting = sum(samples.get("vllm:num_requests_waiting"));
  if (running === undefined && waiting === undefined) return undefined;
  const kvUsage = max(samples.get("vllm:kv_cache_usage_perc")) ??
    max(samples.get("vllm:gpu_cache_usage_perc")) ?? 0;
  const metrics: VllmMetrics = {
    running: running ?? 0,
    waiting: waiting ?? 0,
    kvUsage: Math.min(1, Math.max(0, kvUsage)),
    scrapedAtMs,
    prefixQueries: sum(samples.get("vllm:prefix_cache_queries_total")),
    prefixHits: sum(samples.get("vllm:prefix_cache_hits_total")),
  };
  const kvCapacityTokens = parseKvCapacity(text);
  if (kvCapacityTokens !== undefined) metrics.kvCapacityTokens = kvCapacityTokens;
  const preemptions = sum(samples.get("vllm:num_preemptions_total"));
  if (preemptions !== undefined) metrics.preemptions = preemptions;
  const queueSum = sum(samples.get("vllm:request_queue_time_seconds_sum"));
  const queueCount = sum(samples.get("vllm:request_queue_time_seconds_count"));
  if (queueSum !== undefined && queueCount !== undefined) {
    metrics.queueTimeSumS = queueSum;
    metrics.queueTimeCount = queueCount;
  }
  return metrics;
}

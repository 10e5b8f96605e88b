/** Turns one replay into the figures the routing bench reports: latency summaries, throughput, cache hits, load balance. */
import type { ReplayResult, RequestResult } from "./replay.ts";
import { cdf, imbalance } from "./stats.ts";
import { type EstimateError, estimateError } from "./estimate.ts";
import { summarize, type Summary } from "../../sim/mod.ts";
import type { RoundFigures } from "./rounds.ts";

/**
 * Counters and histogram sums summed over every replica and label set, by metric name
 * (`vllm:prefix_cache_hits_total`, `vllm:time_to_first_token_seconds_sum`...); buckets are left out.
 */
export type ReplicaCounters = Record<string, number>;

/** Sums the samples of a Prometheus text page by metric name, leaving out histogram buckets. */
export function parseCounters(text: string, into: ReplicaCounters = {}): ReplicaCounters {
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1]!.endsWith("_bucket")) continue;
    const value = Number(m[2]);
    if (Number.isFinite(value)) into[m[1]!] = (into[m[1]!] ?? 0) + value;
  }
  return into;
}

/** Reads every replica's `/metrics` and sums them with {@linkcode parseCounters}. */
export async function scrapeCounters(urls: readonly string[]): Promise<ReplicaCounters> {
  const pages = await Promise.all(urls.map(async (url) => {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`Cannot scrape ${url}/metrics: HTTP ${res.status}`);
    return await res.text();
  }));
  const counters: ReplicaCounters = {};
  for (const page of pages) parseCounters(page, counters);
  return counters;
}

function delta(before: ReplicaCounters, after: ReplicaCounters, name: string): number {
  return (after[name] ?? 0) - (before[name] ?? 0);
}

/** Prefix-cache hit rates over a run, 0 to 1, from the replicas' counters. */
export interface HitRates {
  /** Prompt tokens found on the GPU (`vllm:prefix_cache_*`). */
  local: number;
  /** Prompt tokens loaded from the host tier (`vllm:external_prefix_cache_*`). */
  external: number;
  /** Both: the share of prompt tokens not computed. */
  combined: number;
}

/**
 * The hit rates between two scrapes. vLLM counts the prompt tokens of each request as both local
 * and external queries, and an external hit only past the local ones, so the rates add up.
 */
export function hitRates(before: ReplicaCounters, after: ReplicaCounters): HitRates {
  const rate = (kind: string) => {
    const queries = delta(before, after, `vllm:${kind}_queries_total`);
    return queries > 0 ? delta(before, after, `vllm:${kind}_hits_total`) / queries : 0;
  };
  const local = rate("prefix_cache");
  const external = rate("external_prefix_cache");
  return { local, external, combined: local + external };
}

/** What the replicas themselves reported over a run. */
export interface ReplicaView {
  /** Mean time to first token by the replicas' histogram, in ms of its reported seconds. */
  ttftMeanMs: number;
  /** Mean time in the replicas' waiting queue, in ms. */
  queueMeanMs: number;
  /** Sequences preempted for want of KV blocks. */
  preemptions: number;
}

/** The figures of one strategy's run. */
export interface StrategyRun {
  /** Strategy (config name, weighted spec, or `baseline`). */
  strategy: string;
  replicas: number;
  requests: number;
  failed: number;
  /** A few failure messages. */
  errors: string[];
  ttftMs: Summary;
  itlMs: Summary;
  e2eMs: Summary;
  durationS: number;
  requestsPerS: number;
  outputTokensPerS: number;
  /** Prefix-cache hit rate from the replicas' counters, GPU and host tier together, 0 to 1. */
  hitRate: number;
  /** The part of `hitRate` found on the GPU. */
  localHitRate: number;
  /** The part of `hitRate` loaded from the host tier (0 without one). */
  externalHitRate: number;
  /** The replicas' own view of the run. */
  replicaView: ReplicaView;
  /** Requests per backend. */
  backendRequests: Record<string, number>;
  /** Seconds of requests in flight per backend (sum of their end-to-end times). */
  backendBusyS: Record<string, number>;
  /** Max over mean of the requests per backend. */
  requestImbalance: number;
  /** Max over mean of the busy time per backend. */
  busyImbalance: number;
  /** TTFT CDF points `[ms, share]` for the picture. */
  ttftCdf: [number, number][];
  /**
   * The slowest 1% of the answered requests by TTFT (what the p99 is made of), slowest first:
   * trace index, TTFT, the prompt and cached tokens the replica reported, and the replica.
   */
  slowest: SlowRequest[];
  /**
   * CPU cores each process used on average during the replay (the machine's load: on a
   * saturated machine latencies measure the CPU, not the routing); absent until measured.
   */
  cpuCores?: { replicas: number; gateway: number; loadGenerator: number };
  /** The router's estimate of the replicas' cached tokens against their reports; absent without one. */
  estimateError?: EstimateError;
  /** With `--rounds` above 1: each round's headline figures (the fields above are their medians). */
  rounds?: RoundFigures[];
}

/** Options of {@linkcode measureRun}. */
export interface MeasureOptions {
  strategy: string;
  /** Replica ids or URLs, so that an idle replica counts in the imbalance. */
  backends: readonly string[];
  /** The replicas' counters before and after the replay. */
  before: ReplicaCounters;
  after: ReplicaCounters;
}

/** One of a run's slowest requests. */
export interface SlowRequest {
  index: number;
  ttftMs: number;
  promptTokens: number | undefined;
  cachedTokens: number | undefined;
  backend: string | undefined;
}

/** The slowest `share` of `requests` by TTFT, slowest first. */
export function slowestRequests(
  requests: readonly RequestResult[],
  share = 0.01,
): SlowRequest[] {
  const answered = requests.filter((r) => r.error === undefined && r.ttftMs !== undefined);
  const count = Math.ceil(answered.length * share);
  return answered.sort((a, b) => b.ttftMs! - a.ttftMs!).slice(0, count).map((r) => ({
    index: r.index,
    ttftMs: r.ttftMs!,
    promptTokens: r.promptTokens,
    cachedTokens: r.cachedTokens,
    backend: r.backend,
  }));
}

/** Summarises a replay. */
export function measureRun(replay: ReplayResult, options: MeasureOptions): StrategyRun {
  const ok = replay.requests.filter((r) => r.error === undefined);
  const failedRequests = replay.requests.filter((r) => r.error !== undefined);
  const backendRequests: Record<string, number> = {};
  const backendBusyS: Record<string, number> = {};
  for (const b of options.backends) {
    backendRequests[b] = 0;
    backendBusyS[b] = 0;
  }
  for (const r of ok) {
    const b = r.backend ?? "unknown";
    backendRequests[b] = (backendRequests[b] ?? 0) + 1;
    backendBusyS[b] = (backendBusyS[b] ?? 0) + r.e2eMs! / 1000;
  }
  const ttfts = ok.map((r) => r.ttftMs!);
  const outputTokens = ok.reduce((sum, r) => sum + r.outputTokens, 0);
  const durationS = replay.durationMs / 1000;
  const { before, after } = options;
  const hits = hitRates(before, after);
  const mean = (name: string) =>
    (delta(before, after, `${name}_sum`) / delta(before, after, `${name}_count`)) * 1000;
  const estimate = estimateError(replay.requests);
  return {
    ...(estimate === undefined ? {} : { estimateError: estimate }),
    strategy: options.strategy,
    replicas: options.backends.length,
    requests: replay.requests.length,
    failed: failedRequests.length,
    errors: [...new Set(failedRequests.map((r) => r.error!))].slice(0, 5),
    ttftMs: summarize(ttfts),
    itlMs: summarize(replay.itlMs),
    e2eMs: summarize(ok.map((r) => r.e2eMs!)),
    durationS,
    requestsPerS: durationS > 0 ? ok.length / durationS : 0,
    outputTokensPerS: durationS > 0 ? outputTokens / durationS : 0,
    hitRate: hits.combined,
    localHitRate: hits.local,
    externalHitRate: hits.external,
    replicaView: {
      ttftMeanMs: mean("vllm:time_to_first_token_seconds"),
      queueMeanMs: mean("vllm:request_queue_time_seconds"),
      preemptions: delta(before, after, "vllm:num_preemptions_total"),
    },
    backendRequests,
    backendBusyS,
    requestImbalance: imbalance(Object.values(backendRequests)),
    busyImbalance: imbalance(Object.values(backendBusyS)),
    ttftCdf: cdf(ttfts, 200),
    slowest: slowestRequests(replay.requests),
  };
}

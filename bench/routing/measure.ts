/** Turns one replay into the figures the routing bench reports: latency summaries, throughput, cache hits, load balance. */
import type { ReplayResult } from "./replay.ts";
import { cdf, imbalance, summarize, type Summary } from "./stats.ts";

/** The replicas' prefix-cache counters, in prompt tokens (`vllm:prefix_cache_*_total`). */
export interface PrefixCounters {
  queries: number;
  hits: number;
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
  /** Prefix-cache hit rate from the replicas' counters, 0 to 1. */
  hitRate: number;
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
   * CPU cores each process used on average during the replay (the machine's load: on a
   * saturated machine latencies measure the CPU, not the routing); absent until measured.
   */
  cpuCores?: { replicas: number; gateway: number; loadGenerator: number };
}

/** Sums the `vllm:prefix_cache_queries_total` and `..._hits_total` samples of a Prometheus text page. */
export function parsePrefixCounters(text: string): PrefixCounters {
  const counters: PrefixCounters = { queries: 0, hits: 0 };
  for (const line of text.split("\n")) {
    if (!line.startsWith("vllm:prefix_cache_")) continue;
    const m = /^vllm:prefix_cache_(queries|hits)_total(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const value = Number(m[2]);
    if (Number.isFinite(value)) counters[m[1] as "queries" | "hits"] += value;
  }
  return counters;
}

/** Reads and sums the prefix-cache counters of every replica. */
export async function scrapePrefixCounters(urls: readonly string[]): Promise<PrefixCounters> {
  const pages = await Promise.all(urls.map(async (url) => {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`Cannot scrape ${url}/metrics: HTTP ${res.status}`);
    return parsePrefixCounters(await res.text());
  }));
  return pages.reduce((a, b) => ({ queries: a.queries + b.queries, hits: a.hits + b.hits }), {
    queries: 0,
    hits: 0,
  });
}

/** Options of {@linkcode measureRun}. */
export interface MeasureOptions {
  strategy: string;
  /** Replica ids or URLs, so that an idle replica counts in the imbalance. */
  backends: readonly string[];
  /** Counters before and after the replay. */
  before: PrefixCounters;
  after: PrefixCounters;
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
  const queries = options.after.queries - options.before.queries;
  const hits = options.after.hits - options.before.hits;
  return {
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
    hitRate: queries > 0 ? hits / queries : 0,
    backendRequests,
    backendBusyS,
    requestImbalance: imbalance(Object.values(backendRequests)),
    busyImbalance: imbalance(Object.values(backendBusyS)),
    ttftCdf: cdf(ttfts, 200),
  };
}

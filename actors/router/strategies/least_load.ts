/** `least_load`: the candidate with the least work, from its scraped vLLM gauges and the gateway's in-flight count. */
import { inverseScores } from "./_scores.ts";
import type { BackendView, RequestFeatures, Strategy, StrategyOptions } from "./types.ts";

/** Weights of the load figures in {@linkcode loadCost}. */
export const LOAD_WEIGHTS = {
  /** Per request this gateway has in flight (fresh). */
  inFlight: 1,
  /** Per request the replica reports running (includes other clients' requests). */
  running: 0.5,
  /** Per request the replica reports queued: waiting is what delays a first token. */
  waiting: 1,
  /** For a full KV cache (scaled by usage 0 to 1): near full, new requests queue or preempt. */
  kvUsage: 4,
} as const;

/** A scrape older than this is ignored: the replica's gauges have moved on. */
export const STALE_SCRAPE_MS = 15_000;

/** The weighted work figure of one backend (lower is better). */
export function loadCost(backend: BackendView, nowMs: number): number {
  let cost = LOAD_WEIGHTS.inFlight * backend.inFlight;
  const load = backend.load;
  if (load !== undefined && nowMs - load.scrapedAtMs <= STALE_SCRAPE_MS) {
    cost += LOAD_WEIGHTS.running * load.running + LOAD_WEIGHTS.waiting * load.waiting +
      LOAD_WEIGHTS.kvUsage * load.kvUsage;
  }
  return cost;
}

/** Scores candidates by {@linkcode loadCost}: the least loaded scores 1. */
export function leastLoad(options: StrategyOptions): Strategy {
  return {
    name: "least_load",
    score(_request: RequestFeatures, candidates: readonly BackendView[]): number[] {
      const now = options.now();
      return inverseScores(candidates.map((c) => loadCost(c, now)));
    },
  };
}

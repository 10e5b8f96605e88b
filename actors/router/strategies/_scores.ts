/** Score helpers shared by the strategies of this folder: the load figure, cost-to-score mapping and the load bound. */
import type { BackendView } from "./types.ts";

/**
 * Maps non-negative costs to scores in (0, 1]: the cheapest gets 1, the others
 * `(min + 1) / (cost + 1)`, so one request more on an idle replica halves its score while the
 * same step on a busy one barely moves it.
 */
export function inverseScores(costs: readonly number[]): number[] {
  let min = Infinity;
  for (const c of costs) if (c < min) min = c;
  return costs.map((c) => (min + 1) / (c + 1));
}

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

/**
 * The weighted work figure of one backend (lower is better): the gateway's fresh in-flight count
 * plus the replica's last scraped running and waiting requests and KV usage.
 */
export function loadCost(backend: BackendView, nowMs: number): number {
  let cost = LOAD_WEIGHTS.inFlight * backend.inFlight;
  const load = backend.load;
  if (load !== undefined && nowMs - load.scrapedAtMs <= STALE_SCRAPE_MS) {
    cost += LOAD_WEIGHTS.running * load.running + LOAD_WEIGHTS.waiting * load.waiting +
      LOAD_WEIGHTS.kvUsage * load.kvUsage;
  }
  return cost;
}

/**
 * The candidates' load costs, their mean, and which of them are within the load bound: a
 * backend keeps sticky or cached traffic while its cost is at most `loadBound` times the mean
 * plus one request.
 */
export function boundedLoads(
  candidates: readonly BackendView[],
  nowMs: number,
  loadBound: number,
): { costs: number[]; within: boolean[] } {
  const costs = candidates.map((c) => loadCost(c, nowMs));
  let sum = 0;
  for (const c of costs) sum += c;
  const mean = costs.length === 0 ? 0 : sum / costs.length;
  return { costs, within: costs.map((c) => c <= loadBound * mean + 1) };
}

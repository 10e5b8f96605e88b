/** Score helpers shared by the strategies of this folder: the load figure, cost-to-score mapping and the load bound. */
import type { BackendView } from "./types.ts";

/**
 * Maps non-negative costs to scores in (0, 1]: the cheapest gets 1, the others
 * `(min + 1) / (cost + 1)`, so one request more on an idle replica halves its score while the
 * same step on a busy one barely moves it.
 */
export function inverseScores(costs: readonly number[]): number[] {
  const scores = new Array<number>(costs.length);
  invert(costs, costs.length, scores);
  return scores;
}

/** {@linkcode inverseScores} of the first `n` of `costs`, written into `scores`. */
function invert(costs: ArrayLike<number>, n: number, scores: { [i: number]: number }): void {
  let min = Infinity;
  for (let i = 0; i < n; i++) if (costs[i]! < min) min = costs[i]!;
  for (let i = 0; i < n; i++) scores[i] = (min + 1) / (costs[i]! + 1);
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
 * The candidates' load scores ({@linkcode inverseScores} of their {@linkcode loadCost}s) and which
 * of them are within the load bound: a backend keeps sticky or cached traffic while its cost is
 * at most `loadBound` times the mean plus one request. Its arrays are reused from one
 * {@linkcode BoundedLoads.measure} to the next (the router's hot path allocates nothing here), so
 * read them before measuring again.
 */
export class BoundedLoads {
  /** Each candidate's load cost, in the order measured. */
  costs = new Float64Array(16);
  /** Each candidate's load score. */
  scores = new Float64Array(16);
  /** 1 for each candidate within the load bound, else 0. */
  within = new Uint8Array(16);
  #measured = 0;

  /**
   * Measures `candidates` at `nowMs` against `loadBound`; returns this. `extra`, when given, adds
   * to each candidate's cost after the bound is taken: load that scores but does not shed.
   */
  measure(
    candidates: readonly BackendView[],
    nowMs: number,
    loadBound: number,
    extra?: (view: BackendView) => number,
  ): this {
    const n = candidates.length;
    if (n > this.costs.length) {
      this.costs = new Float64Array(n);
      this.scores = new Float64Array(n);
      this.within = new Uint8Array(n);
    }
    const costs = this.costs;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += costs[i] = loadCost(candidates[i]!, nowMs);
    const bound = loadBound * (n === 0 ? 0 : sum / n) + 1;
    for (let i = 0; i < n; i++) this.within[i] = costs[i]! <= bound ? 1 : 0;
    if (extra !== undefined) { for (let i = 0; i < n; i++) costs[i]! += extra(candidates[i]!); }
    this.#measured = n;
    invert(costs, n, this.scores);
    return this;
  }

  /** The last measure's load scores as an array of their own (a strategy's `score` result). */
  scoreList(): number[] {
    return Array.from(this.scores.subarray(0, this.#measured));
  }
}

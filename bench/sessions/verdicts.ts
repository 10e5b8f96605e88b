/** Issue #11's session targets and the pure arithmetic that judges a run against them. */
import { quantile } from "../../sim/mod.ts";

/** The targets, in their units. */
export const SESSION_TARGETS = {
  /** Most ms a session turn may add over the same plain call at p50. */
  addedP50Ms: 2,
  /** Most ms a session turn may add over the same plain call at p99. */
  addedP99Ms: 5,
  /** Most MB of gateway memory 10,000 idle sessions may cost. */
  idleMbPer10k: 100,
  /** Least prefix-cache hit rate of a session compacted at a threshold. */
  thresholdHitRate: 0.8,
  /** The hit rate a window trimmed every turn should fall under. */
  naiveHitRate: 0.2,
} as const;

/** The median of the numbers among `values` (NaN ones left out); NaN for none. */
export function medianOf(values: readonly number[]): number {
  return quantile(values.filter((v) => !Number.isNaN(v)).toSorted((a, b) => a - b), 0.5);
}

/** The MB that `sessions` cost, scaled to 10,000 sessions, from a byte delta. */
export function mbPer10k(deltaBytes: number, sessions: number): number {
  return sessions > 0 ? deltaBytes / 1e6 * 10_000 / sessions : NaN;
}

/** Prefix-cache hits over queries between two counter readings; NaN with no queries. */
export function hitRate(
  before: { queries: number; hits: number },
  after: { queries: number; hits: number },
): number {
  const queries = after.queries - before.queries;
  return queries > 0 ? (after.hits - before.hits) / queries : NaN;
}

/** Whether `value` is at most `limit`; undefined when it was not measured. */
export function atMost(value: number | undefined, limit: number): boolean | undefined {
  return value === undefined || Number.isNaN(value) ? undefined : value <= limit;
}

/** Whether `value` is at least `limit`; undefined when it was not measured. */
export function atLeast(value: number | undefined, limit: number): boolean | undefined {
  return value === undefined || Number.isNaN(value) ? undefined : value >= limit;
}

/** `PASS`, `FAIL` or `n/a` for a verdict. */
export function passFail(met: boolean | undefined): string {
  return met === undefined ? "n/a" : met ? "PASS" : "FAIL";
}

/** Summary statistics of latency samples: percentiles, mean, and the points of an empirical CDF. */

/** Mean and percentiles of a sample, in its unit. */
export interface Summary {
  /** Samples. */
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/**
 * The `q`-quantile (0 to 1) of ascending `sorted` values, interpolating linearly between the
 * nearest ranks (as numpy's default does); NaN for no values.
 */
export function quantile(sorted: readonly number[], q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = Math.min(1, Math.max(0, q)) * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Count, mean, p50, p90, p99 and max of `values` (any order); NaN figures for no values. */
export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  let sum = 0;
  for (const v of sorted) sum += v;
  const n = sorted.length;
  return {
    count: n,
    mean: n === 0 ? NaN : sum / n,
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    max: n === 0 ? NaN : sorted[n - 1]!,
  };
}

/**
 * The empirical CDF of `values` at `points` evenly spaced probabilities: pairs `[value, share]`
 * where `share` of the samples are at most `value`, for drawing.
 */
export function cdf(values: readonly number[], points = 100): [number, number][] {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return [];
  const out: [number, number][] = [];
  for (let i = 0; i <= points; i++) {
    const q = i / points;
    out.push([quantile(sorted, q), q]);
  }
  return out;
}

/**
 * Load imbalance: the largest value over the mean (1 is perfectly even); 1 for no or all-zero
 * values. `values` holds one figure per replica, zeros included.
 */
export function imbalance(values: readonly number[]): number {
  if (values.length === 0) return 1;
  let sum = 0;
  let max = 0;
  for (const v of values) {
    sum += v;
    if (v > max) max = v;
  }
  return sum === 0 ? 1 : max / (sum / values.length);
}

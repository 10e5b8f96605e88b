/** The points of an empirical CDF and the load imbalance, for the routing report. */
import { quantile } from "../../sim/mod.ts";

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

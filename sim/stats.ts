/**
 * Summary statistics of samples, the one place the simulator and the benchmarks read percentiles
 * from. A percentile is d3-array's `quantileSorted`: linear interpolation between the two nearest
 * ranks (numpy's default, R's type 7), so p50 of an even count is the mean of the middle two.
 */
import { quantileSorted } from "d3-array";

/** Count, mean and percentiles of a sample, in its unit; NaN figures for no values. */
export interface Summary {
  /** Samples. */
  count: number;
  /** Arithmetic mean. */
  mean: number;
  /** Median. */
  p50: number;
  /** 90th percentile. */
  p90: number;
  /** 99th percentile. */
  p99: number;
  /** Largest. */
  max: number;
}

/** The `q` quantile (0 to 1) of ascending `sorted` values, interpolated; NaN for no values. */
export function quantile(sorted: number[], q: number): number {
  return quantileSorted(sorted, q) ?? NaN;
}

/** Count, mean, p50, p90, p99 and max of `values` (any order; not changed). */
export function summarize(values: readonly number[]): Summary {
  const sorted = values.toSorted((a, b) => a - b);
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

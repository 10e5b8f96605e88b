/** A cumulative Prometheus-style histogram with fixed bucket bounds. */

/** Counts observations into buckets, as Prometheus histograms do. */
export class Histogram {
  /** Upper bounds of the buckets, ascending (+Inf is implicit). */
  readonly bounds: readonly number[];
  /** Observations per bucket (not cumulative); the last entry is +Inf. */
  readonly counts: number[];
  /** Sum of all observations. */
  sum = 0;
  /** Number of observations. */
  count = 0;

  /** @param bounds the bucket upper bounds, ascending */
  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Array(bounds.length + 1).fill(0);
  }

  /** Records one value. */
  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

/** vLLM's buckets for time to first token, in seconds. */
export const TTFT_BUCKETS = [
  0.001,
  0.005,
  0.01,
  0.02,
  0.04,
  0.06,
  0.08,
  0.1,
  0.25,
  0.5,
  0.75,
  1,
  2.5,
  5,
  7.5,
  10,
  20,
  40,
  80,
  160,
  640,
  2560,
] as const;

/** vLLM's buckets for inter-token latency, in seconds. */
export const ITL_BUCKETS = [
  0.01,
  0.025,
  0.05,
  0.075,
  0.1,
  0.15,
  0.2,
  0.3,
  0.4,
  0.5,
  0.75,
  1,
  2.5,
  5,
  7.5,
  10,
  20,
  40,
  80,
] as const;

/** vLLM's buckets for request latencies (end to end, queue), in seconds. */
export const REQUEST_BUCKETS = [
  0.3,
  0.5,
  0.8,
  1,
  1.5,
  2,
  2.5,
  5,
  10,
  15,
  20,
  30,
  40,
  50,
  60,
  120,
  240,
  480,
  960,
  1920,
  7680,
] as const;

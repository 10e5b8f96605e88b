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

export {
  /** vLLM's buckets for inter-token latency, in seconds. */
  INTER_TOKEN_BUCKETS_S as ITL_BUCKETS,
  /** vLLM's buckets for request latencies (end to end, queue), in seconds. */
  REQUEST_LATENCY_BUCKETS_S as REQUEST_BUCKETS,
  /** vLLM's buckets for time to first token, in seconds. */
  TTFT_BUCKETS_S as TTFT_BUCKETS,
} from "../actors/backend/vllm_buckets.ts";

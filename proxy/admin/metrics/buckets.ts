/** Histogram bucket boundaries, in seconds: vLLM's own, so the gateway's histograms line up with its replicas'. */

export {
  INTER_TOKEN_BUCKETS_S,
  REQUEST_LATENCY_BUCKETS_S,
  TTFT_BUCKETS_S,
} from "../../../actors/backend/vllm_buckets.ts";

/** The gateway's own added time per request: vLLM has no counterpart, so these resolve sub-millisecond overhead. */
export const GATEWAY_OVERHEAD_BUCKETS_S: readonly number[] = [
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1.0,
];

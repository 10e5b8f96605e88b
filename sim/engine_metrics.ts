/** The engine's counters, histograms and lag record, with vLLM's meaning. */
import { Histogram, ITL_BUCKETS, REQUEST_BUCKETS, TTFT_BUCKETS } from "./histogram.ts";

/** Why a sequence ended. */
export type FinishReason = "length" | "stop" | "abort";

/** How far the step loop ran behind its clock, in simulated ms. */
export interface LagStats {
  /** Steps measured. */
  steps: number;
  /** Largest lag seen. */
  maxMs: number;
  /** Sum of lags (mean = sumMs / steps). */
  sumMs: number;
  /** Every step's lag, when the engine was made with `recordLag`. */
  samples: number[] | undefined;
}

/** Counters and histograms with vLLM's meaning; times in reported seconds. */
export interface EngineMetrics {
  /** Prompt tokens of requests that finished prefill. */
  promptTokens: number;
  /** Tokens generated. */
  generationTokens: number;
  /** Preemptions for want of KV blocks. */
  preemptions: number;
  /** Finished requests by reason. */
  finished: Record<FinishReason, number>;
  /** Time to first token. */
  ttft: Histogram;
  /** Time between tokens. */
  itl: Histogram;
  /** Arrival to finish. */
  e2e: Histogram;
  /** Arrival to first scheduled. */
  queue: Histogram;
}

/** Fresh, zeroed metrics with vLLM's histogram buckets. */
export function newEngineMetrics(): EngineMetrics {
  return {
    promptTokens: 0,
    generationTokens: 0,
    preemptions: 0,
    finished: { length: 0, stop: 0, abort: 0 },
    ttft: new Histogram(TTFT_BUCKETS),
    itl: new Histogram(ITL_BUCKETS),
    e2e: new Histogram(REQUEST_BUCKETS),
    queue: new Histogram(REQUEST_BUCKETS),
  };
}

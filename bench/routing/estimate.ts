/** The router's estimate error in `bench routing`: per request, the cached tokens it predicted against those the replica reported. */
import { quantile } from "../../sim/mod.ts";
import { BLOCK_TOKENS, type RequestResult } from "./replay.ts";

/** How far the router's estimate of the replicas' caches was from what they reported, in tokens. */
export interface EstimateError {
  /** Requests with both a prediction and a report. */
  requests: number;
  /** Mean of |predicted - reported| cached tokens. */
  meanAbsTokens: number;
  /** 90th percentile of |predicted - reported|. */
  p90AbsTokens: number;
  /** Mean predicted minus mean reported: above 0 the router expects more cache than there is. */
  biasTokens: number;
  /** Mean reported cached tokens, for scale. */
  meanReportedTokens: number;
}

/**
 * The most cached tokens a replica can report for a prompt of `promptTokens`: whole blocks that
 * end before its last token (a replica always computes the last token).
 */
export function reusableTokens(promptTokens: number, blockTokens = BLOCK_TOKENS): number {
  return Math.max(0, Math.floor((promptTokens - 1) / blockTokens)) * blockTokens;
}

/**
 * The estimate error over `requests`: each prediction is capped at what the replica could have
 * reported for that prompt, so the router is not charged for the block no replica reuses.
 * Undefined when no request had both figures (a strategy without an estimate, the baseline).
 */
export function estimateError(requests: readonly RequestResult[]): EstimateError | undefined {
  const errors: number[] = [];
  let predictedSum = 0;
  let reportedSum = 0;
  for (const r of requests) {
    if (r.error !== undefined || r.predictedCachedTokens === undefined) continue;
    if (r.cachedTokens === undefined || r.promptTokens === undefined) continue;
    const predicted = Math.min(r.predictedCachedTokens, reusableTokens(r.promptTokens));
    errors.push(Math.abs(predicted - r.cachedTokens));
    predictedSum += predicted;
    reportedSum += r.cachedTokens;
  }
  if (errors.length === 0) return undefined;
  const n = errors.length;
  const mean = errors.reduce((a, b) => a + b, 0) / n;
  return {
    requests: n,
    meanAbsTokens: mean,
    p90AbsTokens: quantile(errors.sort((a, b) => a - b), 0.9),
    biasTokens: (predictedSum - reportedSum) / n,
    meanReportedTokens: reportedSum / n,
  };
}

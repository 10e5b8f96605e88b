/** The step-time model of one H100 serving an 8B model, fitted to ../shared/docs/calibration.md. */

/** Constants of the latency model; the defaults are fitted to the calibration tables. */
export interface LatencyModel {
  /** Fixed cost of a step that runs any prefill, in ms. */
  prefillFixedMs: number;
  /** Matrix work per token in a prefill step, in ms (the linear term). */
  prefillPerTokenMs: number;
  /** Causal attention within the new tokens of one sequence: ms per new token squared. */
  attentionQuadMs: number;
  /**
   * Attention of new tokens over a cached prefix: the first `cachedSlowTokens` new tokens of a
   * chunk cost `cachedSlowMs` per (prefix token x new token), the rest the causal rate.
   */
  cachedSlowMs: number;
  /** How many new tokens of a chunk pay the slow cached-prefix rate. */
  cachedSlowTokens: number;
  /** Bytes of weights read by every step. */
  weightBytes: number;
  /** Bytes of KV cache per token. */
  kvBytesPerToken: number;
  /** Memory bandwidth in bytes per second. */
  bandwidthBytesPerSecond: number;
}

/**
 * Fitted on the calibration rows: prefill with no cache (512 to 32k tokens) and on top of a
 * cached prefix; decode is the document's bandwidth formula.
 */
export const H100_LLAMA_8B: Readonly<LatencyModel> = {
  prefillFixedMs: 5.653,
  prefillPerTokenMs: 0.027393,
  attentionQuadMs: 4.9408e-7,
  cachedSlowMs: 3.5647e-6,
  cachedSlowTokens: 928,
  weightBytes: 16.1e9,
  kvBytesPerToken: 131_072,
  bandwidthBytesPerSecond: 3.0e12,
};

/** One sequence's share of a step: `newTokens` computed on top of `contextTokens` already in KV. */
export interface StepPart {
  /** Tokens already in the KV cache for this sequence before the step. */
  contextTokens: number;
  /** Tokens this step computes for it (1 for a decode, a chunk for a prefill). */
  newTokens: number;
  /** True while the sequence is still prefilling its prompt. */
  prefill: boolean;
}

/** Attention cost of a prefill chunk of `newTokens` over `prefixTokens` already cached, in ms. */
export function prefillAttentionMs(
  prefixTokens: number,
  newTokens: number,
  model: Readonly<LatencyModel> = H100_LLAMA_8B,
): number {
  const slow = Math.min(newTokens, model.cachedSlowTokens);
  const fast = newTokens - slow;
  return model.attentionQuadMs * newTokens * newTokens +
    prefixTokens * (model.cachedSlowMs * slow + 2 * model.attentionQuadMs * fast);
}

/** Time of one decode step over sequences holding `contextTokens` in total, in ms. */
export function decodeStepMs(
  contextTokens: number,
  model: Readonly<LatencyModel> = H100_LLAMA_8B,
): number {
  return (model.weightBytes + contextTokens * model.kvBytesPerToken) /
    model.bandwidthBytesPerSecond * 1000;
}

/**
 * Time of one engine step that runs `parts` together, in ms. A decode-only step is bound by
 * memory bandwidth; a step with prefill pays the matrix and attention work of every chunk plus
 * the KV reads of the decoding sequences, and never less than a decode step.
 */
export function stepMs(
  parts: readonly StepPart[],
  model: Readonly<LatencyModel> = H100_LLAMA_8B,
): number {
  let tokens = 0;
  let attention = 0;
  let decodeContext = 0;
  let anyPrefill = false;
  for (const part of parts) {
    tokens += part.newTokens;
    if (part.prefill) {
      anyPrefill = true;
      attention += prefillAttentionMs(part.contextTokens, part.newTokens, model);
    } else {
      decodeContext += part.contextTokens + part.newTokens;
    }
  }
  const decode = decodeStepMs(decodeContext, model);
  if (!anyPrefill) return decode;
  const kvReads = decodeContext * model.kvBytesPerToken / model.bandwidthBytesPerSecond * 1000;
  const prefill = model.prefillFixedMs + model.prefillPerTokenMs * tokens + attention + kvReads;
  return Math.max(prefill, decode);
}

/** How much a replica may hold at once: requests (its `max_num_seqs`) and tokens (its KV cache), from config and its scraped metrics. */
import { type BackendView, CHARS_PER_TOKEN, type RequestFeatures } from "../router/mod.ts";

/** vLLM's default `max_num_seqs`, the request cap of a replica when none is configured. */
export const DEFAULT_MAX_NUM_SEQS = 256;

/** Settings of {@linkcode replicaCapacity} and {@linkcode requestTokens}. */
export interface CapacityOptions {
  /** Requests in flight per replica; undefined for {@linkcode DEFAULT_MAX_NUM_SEQS}. */
  maxInFlight: number | undefined;
  /** Share of a replica's scraped KV capacity filled with the estimated tokens in flight. */
  kvFraction: number;
  /** Output tokens counted for a request without `max_tokens`. */
  outputTokensEstimate: number;
}

/** What one replica may hold at once. */
export interface ReplicaCapacity {
  /** Requests in flight. */
  requests: number;
  /** Estimated KV tokens in flight; Infinity when its KV capacity is unknown (not scraped). */
  tokens: number;
}

/**
 * The caps of `view`: `maxInFlight` (else vLLM's default `max_num_seqs`) requests, and
 * `kvFraction` of the KV capacity its `/metrics` reports in `vllm:cache_config_info` (a prompt of
 * 15k tokens fills an H100's KV at some 28 sequences, long before 256: without this cap the rest
 * would wait inside vLLM, where the gateway can neither reorder nor shed them).
 */
export function replicaCapacity(view: BackendView, options: CapacityOptions): ReplicaCapacity {
  const kvTokens = view.load?.kvCapacityTokens;
  return {
    requests: options.maxInFlight ?? DEFAULT_MAX_NUM_SEQS,
    tokens: kvTokens === undefined ? Infinity : kvTokens * options.kvFraction,
  };
}

/**
 * The KV tokens a request is expected to hold: its prompt (estimated from its characters, as the
 * gateway never tokenizes on the hot path) plus
 * its `max_tokens`, or `outputTokensEstimate` when it sets none.
 */
export function requestTokens(
  request: RequestFeatures,
  maxTokens: number | undefined,
  options: CapacityOptions,
): number {
  const output = maxTokens !== undefined && maxTokens > 0
    ? maxTokens
    : options.outputTokensEstimate;
  return Math.ceil(request.promptChars / CHARS_PER_TOKEN) + output;
}

/** The `max_tokens` (or `max_completion_tokens`) of a parsed request body, if it sets one. */
export function maxTokensOf(json: unknown): number | undefined {
  if (typeof json !== "object" || json === null) return undefined;
  const body = json as { max_tokens?: unknown; max_completion_tokens?: unknown };
  const value = body.max_tokens ?? body.max_completion_tokens;
  return typeof value === "number" ? value : undefined;
}

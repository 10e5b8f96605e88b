/** The tokens a request is charged at admission, before its real usage is known: cheap, no tokenizer. */

/** Options of {@linkcode estimateTokens}. */
export interface EstimateOptions {
  /** Completion tokens charged when the body sets no `max_completion_tokens` or `max_tokens`. */
  defaultCompletionTokens: number;
  /** Whether the endpoint generates nothing (embeddings): no completion is charged. */
  promptOnly: boolean;
}

/** Bytes of a JSON body per prompt token, about: English runs near 4 characters a token. */
const BYTES_PER_TOKEN = 4;

/**
 * The tokens a request of `bodyBytes` bytes is charged at admission: its prompt as the body's
 * size over four (JSON's quotes and keys make it an overestimate, on the safe side), plus the
 * completion it may generate: `max_completion_tokens`, else `max_tokens`, else the default, times
 * `n` choices.
 */
export function estimateTokens(bodyBytes: number, json: unknown, options: EstimateOptions): number {
  const prompt = Math.ceil(bodyBytes / BYTES_PER_TOKEN);
  if (options.promptOnly) return prompt;
  const body = typeof json === "object" && json !== null ? json as Record<string, unknown> : {};
  const max = countOf(body.max_completion_tokens) ?? countOf(body.max_tokens) ??
    options.defaultCompletionTokens;
  const choices = countOf(body.n) ?? 1;
  return prompt + max * Math.max(1, choices);
}

function countOf(value: unknown): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : undefined;
}

/** `limits:` in config: requests, tokens and concurrent requests per client and per model, shared through KV. */
import { z } from "zod";

const positiveInt = z.number().int().positive();

/** One set of limits; an absent field is no limit. */
export const RateLimitSchema = z.strictObject({
  /** Requests admitted in any minute. */
  requests_per_minute: positiveInt.optional(),
  /** Prompt plus completion tokens in any minute (estimated at admission, reconciled at the end). */
  tokens_per_minute: positiveInt.optional(),
  /** Requests in flight at once. */
  max_concurrent: positiveInt.optional(),
});

/** `limits:`. */
export const LimitsSchema = z.strictObject({
  /** What every client gets unless its API key or token sets its own (field by field). */
  per_client: RateLimitSchema.default({}),
  /**
   * Limits of a model over all its clients, by model name (configured or registered), e.g.
   * `{my_model: {requests_per_minute: 600}}`.
   */
  models: z.record(z.string().min(1), RateLimitSchema).default({}),
  /**
   * Seconds between syncs of the counters through KV with the other gateway processes on the
   * store; several processes may overshoot a limit by about processes × rate × this.
   * @default 1
   */
  sync_interval: z.number().positive().default(1),
  /** Completion tokens reserved at admission for a request that sets no `max_tokens`. @default 256 */
  default_completion_tokens: z.number().int().min(0).default(256),
});

/** One parsed set of limits. */
export type RateLimitConfig = z.infer<typeof RateLimitSchema>;
/** The `limits:` settings. */
export type LimitsConfig = z.infer<typeof LimitsSchema>;

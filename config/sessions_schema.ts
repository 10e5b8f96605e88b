/** `sessions:` in config: TTLs, what happens at expiry, default compression and limits. */
import { z } from "zod";
import { COMPRESSION_METHODS } from "../actors/session/compression/types.ts";

const positiveInt = z.number().int().positive();
const seconds = z.number().positive();
const METHODS = ["none", ...COMPRESSION_METHODS] as const;

/** The default compression of sessions that do not choose one. */
export const SessionCompressionSchema = z.strictObject({
  /** The method, or `none` (an overflowing prompt is then a 400 `context_length_exceeded`). */
  method: z.enum(METHODS).default("sliding_window"),
  /** Prompt budget in tokens; the model's `max_model_len` (or 131072) when absent. */
  budget_tokens: positiveInt.optional(),
  /** Compact when a prompt would pass this fraction of the budget. */
  threshold: z.number().gt(0).max(1).default(0.8),
  /** Compact down to this fraction of the budget. */
  target: z.number().gt(0).max(1).default(0.5),
  /** Newest turns always kept verbatim. */
  keep_recent_turns: z.number().int().min(0).default(2),
}).refine((c) => c.target < c.threshold, {
  message: "target must be below threshold",
  path: ["target"],
});

/** Limits per session and per client; absent is no limit. */
export const SessionLimitsConfigSchema = z.strictObject({
  /** Active sessions in the whole gateway. */
  max_sessions: positiveInt.optional(),
  /** Active sessions of one client (`X-Client-ID`, or the key's client). */
  max_sessions_per_client: positiveInt.optional(),
  /** Prompt plus completion tokens one session may use. */
  max_tokens_per_session: positiveInt.optional(),
  /** Tool calls one session may make in a minute. */
  max_tool_calls_per_minute: positiveInt.optional(),
  /** Seconds a session may live, extensions included. */
  max_duration: seconds.optional(),
});

/** `sessions:`. */
export const SessionsSchema = z.strictObject({
  /** Seconds a session lives after its creation (or its last extend) unless it asks otherwise. */
  default_ttl: seconds.default(3600),
  /** The longest TTL a session may ask for. */
  max_ttl: seconds.default(30 * 24 * 3600),
  /** `delete` removes an expired session's records; `archive` keeps them, read-only. */
  on_expire: z.enum(["delete", "archive"]).default("delete"),
  /** Seconds an idle session's actor stays in memory before it passivates to KV. */
  idle_passivate: seconds.default(60),
  /** Whether plain `/v1/chat/completions` calls carrying the session header are recorded into that session. */
  record_plain_calls: z.boolean().default(true),
  compression: SessionCompressionSchema.default(SessionCompressionSchema.parse({})),
  limits: SessionLimitsConfigSchema.default({}),
});

/** The `sessions:` settings. */
export type SessionsConfig = z.infer<typeof SessionsSchema>;

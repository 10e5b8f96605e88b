/** A session's KV records: its head, one record per turn, one per compaction, and their keys. */
import { z } from "zod";
import { COMPRESSION_METHODS } from "./compression/types.ts";
import { ChatMessageSchema } from "./messages.ts";

/** Session ids: opaque, 1-128 characters of letters, digits and `_ . : -`. */
export const SESSION_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/** Whether `id` can be a session id (a bad one is answered 404 like an unknown one). */
export function isSessionId(id: string): boolean {
  return SESSION_ID.test(id);
}

/** A new opaque session id, `sess_` and 24 random base-36 characters. */
export function newSessionId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  let id = "sess_";
  for (const b of bytes) id += (b % 36).toString(36);
  return id;
}

/** A session's lifecycle: `active` takes turns; `expired` (TTL passed) and `closed` do not. */
export const SESSION_STATES = ["active", "expired", "closed"] as const;

/** The compression settings kept in a session (config names). */
export const CompressionSettingsSchema = z.object({
  method: z.enum([...COMPRESSION_METHODS, "none"]),
  budget_tokens: z.number().int().positive(),
  threshold: z.number().gt(0).max(1),
  target: z.number().gt(0).max(1),
  keep_recent_turns: z.number().int().min(0),
});

/** The limits a session was created with; null is no limit. */
export const SessionLimitsSchema = z.object({
  max_tokens: z.number().int().positive().nullable(),
  max_tool_calls_per_minute: z.number().int().positive().nullable(),
  max_duration_seconds: z.number().positive().nullable(),
});

/** What a session has used so far. */
export const SessionUsageSchema = z.object({
  turns: z.number().int().min(0),
  prompt_tokens: z.number().int().min(0),
  completion_tokens: z.number().int().min(0),
  cached_tokens: z.number().int().min(0),
  tool_calls: z.number().int().min(0),
  /** Tokens of the context the next turn starts from (system, compacted base, turns since). */
  context_tokens: z.number().int().min(0),
  compactions: z.number().int().min(0),
});

/** The turn a gateway process is running: the session's single-writer claim. */
export const InflightSchema = z.object({
  turn: z.number().int().positive(),
  node: z.string(),
  started_at_ms: z.number(),
  request_id: z.string(),
});

/** The head record at `["session", id]`: everything but the turns. */
export const SessionHeadSchema = z.object({
  v: z.literal(1),
  id: z.string(),
  model: z.string(),
  system: z.string().nullable(),
  metadata: z.record(z.string(), z.string()),
  task_id: z.string().nullable(),
  client_id: z.string().nullable(),
  /** `api` when made by POST /v1/sessions, `header` when a plain call's session header made it. */
  source: z.enum(["api", "header", "conversation"]),
  state: z.enum(SESSION_STATES),
  created_at_ms: z.number(),
  updated_at_ms: z.number(),
  expires_at_ms: z.number(),
  ttl_seconds: z.number().positive(),
  on_busy: z.enum(["reject", "queue"]),
  compression: CompressionSettingsSchema,
  limits: SessionLimitsSchema,
  usage: SessionUsageSchema,
  /** Times (ms) of the tool calls made in the last minute, for the per-minute limit. */
  tool_call_times: z.array(z.number()),
  /** The replica that served the last turn (affinity that survives restarts). */
  backend: z.string().nullable(),
  /** The number the next turn gets; turns are 1, 2, 3, ... */
  next_turn: z.number().int().positive(),
  /** Tool call ids of the last assistant message that no tool result has answered yet. */
  open_tool_calls: z.array(z.string()),
  /** The latest compaction (0: none); the context is its messages plus the originals from `base_turn` on. */
  compaction: z.number().int().min(0),
  base_turn: z.number().int().positive(),
  inflight: InflightSchema.nullable(),
  /**
   * The `extra.prompt_messages` of the last turn (0 when it has none): how many messages of a
   * recorded plain call's prompt, and its reply, the session holds, so the next recorded call
   * needs no read of that turn. Absent in heads written before it existed.
   */
  last_prompt_messages: z.number().int().min(0).optional(),
});

/** A session's head. */
export type SessionHead = z.infer<typeof SessionHeadSchema>;
/** Compression settings of a session. */
export type CompressionSettings = z.infer<typeof CompressionSettingsSchema>;
/** Limits of a session. */
export type SessionLimits = z.infer<typeof SessionLimitsSchema>;

/** How a turn ended. */
export const TURN_STATUSES = ["completed", "cancelled"] as const;

/** One turn at `["session_turn", id, n, chunk]`: the new messages, the reply, and what was sent. */
export const TurnRecordSchema = z.object({
  v: z.literal(1),
  turn: z.number().int().positive(),
  status: z.enum(TURN_STATUSES),
  /** Which route took it. */
  source: z.enum(["session", "chat_completions", "responses", "conversation"]),
  created_at_ms: z.number(),
  request_id: z.string(),
  /** The messages the client sent (only the new ones). */
  input: z.array(ChatMessageSchema),
  /** Their token counts as sent. */
  input_tokens: z.array(z.number().int().min(0)),
  /** The assistant's reply: one message, or none when a cancel came before any output. */
  output: z.array(ChatMessageSchema),
  output_tokens: z.number().int().min(0),
  finish_reason: z.string().nullable(),
  backend: z.string().nullable(),
  usage: z.object({
    prompt_tokens: z.number().int().min(0),
    completion_tokens: z.number().int().min(0),
    cached_tokens: z.number().int().min(0),
  }),
  /** What the model was sent: the compaction the prompt started from, the first original turn after it, and its size. */
  sent: z.object({
    compaction: z.number().int().min(0),
    base_turn: z.number().int().positive(),
    messages: z.number().int().min(0),
    prompt_tokens: z.number().int().min(0),
  }),
  /** Request parameters of a Responses API turn, kept so `GET /v1/responses/:id` can show them. */
  extra: z.record(z.string(), z.unknown()).optional(),
  /** Indexes of messages (input first, then output) deleted since: kept here, left out of later prompts. */
  deleted: z.array(z.number().int().min(0)).optional(),
});

/** A turn record. */
export type TurnRecord = z.infer<typeof TurnRecordSchema>;

/** A message of a compacted context, with where it came from (see compression/types.ts). */
export const ContextMessageSchema = z.object({
  message: ChatMessageSchema,
  tokens: z.number().int().min(0),
  origin: z.union([
    z.object({ kind: z.literal("original"), turn: z.number(), index: z.number() }),
    z.object({ kind: z.literal("summary"), from: z.number(), to: z.number(), level: z.number() }),
    z.object({ kind: z.literal("masked"), turn: z.number(), index: z.number() }),
  ]),
});

/** A compaction at `["session_compaction", id, k, chunk]`: the context that replaced the history before `base_turn`. */
export const CompactionRecordSchema = z.object({
  v: z.literal(1),
  compaction: z.number().int().positive(),
  method: z.string(),
  created_at_ms: z.number(),
  /** The turn it ran before; the originals of turns from here on follow its context. */
  base_turn: z.number().int().positive(),
  context: z.array(ContextMessageSchema),
  summaries: z.array(z.object({
    from: z.number(),
    to: z.number(),
    level: z.number(),
    text: z.string(),
    tokens: z.number(),
  })),
  tokens_before: z.number().int().min(0),
  tokens_after: z.number().int().min(0),
  actions: z.array(z.string()),
});

/** A compaction record. */
export type CompactionRecord = z.infer<typeof CompactionRecordSchema>;

/** The KV keys of sessions. */
export const keys = {
  head: (id: string): Deno.KvKey => ["session", id],
  heads: ["session"] as Deno.KvKey,
  turns: (id: string): Deno.KvKey => ["session_turn", id],
  turn: (id: string, n: number): Deno.KvKey => ["session_turn", id, n],
  compactions: (id: string): Deno.KvKey => ["session_compaction", id],
  compaction: (id: string, k: number): Deno.KvKey => ["session_compaction", id, k],
  cancel: (id: string, turn: number): Deno.KvKey => ["session_cancel", id, turn],
  node: (nodeId: string): Deno.KvKey => ["gateway_node", nodeId],
  nodes: ["gateway_node"] as Deno.KvKey,
  active: ["session_active"] as Deno.KvKey,
  activeOf: (clientId: string): Deno.KvKey => ["session_active_client", clientId],
};

/** The parts of a new session's head that no turn has changed yet. */
export function unturnedHead(): Pick<
  SessionHead,
  | "usage"
  | "tool_call_times"
  | "backend"
  | "next_turn"
  | "open_tool_calls"
  | "compaction"
  | "base_turn"
  | "inflight"
> {
  return {
    usage: {
      turns: 0,
      prompt_tokens: 0,
      completion_tokens: 0,
      cached_tokens: 0,
      tool_calls: 0,
      context_tokens: 0,
      compactions: 0,
    },
    tool_call_times: [],
    backend: null,
    next_turn: 1,
    open_tool_calls: [],
    compaction: 0,
    base_turn: 1,
    inflight: null,
  };
}

/** zod schemas of the /v1/sessions request bodies and queries. */
import { z } from "zod";
import {
  ChatMessageSchema,
  COMPRESSION_METHODS,
  SESSION_STATES,
} from "../../actors/session/mod.ts";

const metadata = z.record(z.string().max(64), z.string().max(512)).refine(
  (m) => Object.keys(m).length <= 16,
  "metadata holds at most 16 keys",
);
const label = z.string().min(1).max(128);

/** The longest system prompt a session holds, in UTF-8 bytes. */
export const MAX_SYSTEM_BYTES = 48 * 1024;

/** `POST /v1/sessions`. */
export const CreateSessionBody = z.strictObject({
  model: z.string().min(1),
  // The system prompt lives in the session's head, one KV value (64 KiB) with the rest of it.
  system: z.string().refine(
    (text) => new TextEncoder().encode(text).byteLength <= MAX_SYSTEM_BYTES,
    `the system prompt may be at most ${
      MAX_SYSTEM_BYTES / 1024
    } KiB of UTF-8; send the rest as the first turn's messages`,
  ).nullish(),
  metadata: metadata.optional(),
  task_id: label.nullish(),
  client_id: label.nullish(),
  ttl_seconds: z.number().positive().optional(),
  on_busy: z.enum(["reject", "queue"]).optional(),
  // A method's name alone stands for `{method}`: an error then names the field inside.
  compression: z.preprocess(
    (v) => typeof v === "string" ? { method: v } : v,
    z.strictObject({
      method: z.enum([...COMPRESSION_METHODS, "none"]).optional(),
      budget_tokens: z.number().int().positive().optional(),
      threshold: z.number().gt(0).max(1).optional(),
      target: z.number().gt(0).max(1).optional(),
      keep_recent_turns: z.number().int().min(0).optional(),
    }),
  ).optional(),
  limits: z.strictObject({
    max_tokens: z.number().int().positive().optional(),
    max_tool_calls_per_minute: z.number().int().positive().optional(),
    max_duration_seconds: z.number().positive().optional(),
  }).optional(),
});

/** `POST /v1/sessions/:id/extend`. */
export const ExtendBody = z.strictObject({ ttl_seconds: z.number().positive().optional() });

/** Fields of a turn body that are the gateway's, not request parameters for the replica. */
export const TURN_OWN_FIELDS = [
  "messages",
  "message",
  "model",
  "stream",
  "stream_options",
] as const;

/** `POST /v1/sessions/:id/chat`: only the new message(s), and request parameters. */
export const TurnBody = z.looseObject({
  messages: z.array(ChatMessageSchema).min(1).max(256).optional(),
  message: z.union([z.string().min(1), ChatMessageSchema]).optional(),
  model: z.string().min(1).optional(),
  stream: z.boolean().nullish(),
  max_tokens: z.number().int().positive().nullish(),
  max_completion_tokens: z.number().int().positive().nullish(),
}).refine((b) => (b.messages === undefined) !== (b.message === undefined), {
  message: "send the new messages as `messages` (a list) or `message` (one), not both",
  path: ["messages"],
});

/** A turn body as parsed. */
export type TurnBody = z.infer<typeof TurnBody>;

/** `GET /v1/sessions` query. */
export const ListQuery = z.object({
  task_id: label.optional(),
  client_id: label.optional(),
  model: z.string().min(1).optional(),
  state: z.enum(SESSION_STATES).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  after: z.string().min(1).max(128).optional(),
});

/** `GET /v1/sessions/:id/history` query. */
export const HistoryQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  after: z.coerce.number().int().min(0).default(0),
  /** `sent`: each turn also shows the whole prompt it sent. */
  include: z.literal("sent").optional(),
});

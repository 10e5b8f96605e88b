/** The JSON shapes of turnpike's `/v1/sessions` API, as the client helpers send and read them. */
import type OpenAI from "openai";

/** A chat message as a session keeps it. */
export type SessionMessage = OpenAI.Chat.ChatCompletionMessageParam;

/** What turnpike does when its context outgrows the budget. */
export type CompressionMethod =
  | "sliding_window"
  | "summarize"
  | "importance"
  | "hierarchical"
  | "mask_observations"
  | "none";

/** A session's compression settings. */
export interface CompressionSettings {
  method: CompressionMethod;
  budget_tokens: number;
  threshold: number;
  target: number;
  keep_recent_turns: number;
}

/** A session's limits; null is no limit. */
export interface SessionLimits {
  max_tokens: number | null;
  max_tool_calls_per_minute: number | null;
  max_duration_seconds: number | null;
}

/** A session's lifecycle: `active` takes turns; `expired` and `closed` do not. */
export type SessionState = "active" | "expired" | "closed";

/** A session as `GET /v1/sessions/:id` answers it. */
export interface Session {
  id: string;
  object: "session";
  model: string;
  system: string | null;
  metadata: Record<string, string>;
  task_id: string | null;
  client_id: string | null;
  state: SessionState;
  /** Unix seconds. */
  created_at: number;
  updated_at: number;
  expires_at: number;
  ttl_seconds: number;
  on_busy: "reject" | "queue";
  compression: CompressionSettings;
  limits: SessionLimits;
  usage: {
    turns: number;
    prompt_tokens: number;
    completion_tokens: number;
    cached_tokens: number;
    tool_calls: number;
    context_tokens: number;
    compactions: number;
    total_tokens: number;
    tokens_remaining: number | null;
    tool_calls_last_minute: number;
    duration_seconds: number;
  };
  /** The replica that served the last turn. */
  backend: string | null;
  turns: number;
  turn_in_flight: number | null;
  open_tool_calls: string[];
}

/** The body of `POST /v1/sessions`. */
export interface SessionCreateParams {
  model: string;
  system?: string | null;
  metadata?: Record<string, string>;
  task_id?: string | null;
  client_id?: string | null;
  ttl_seconds?: number;
  /** What a turn sent while another runs gets: a 409 (`reject`) or a wait (`queue`). */
  on_busy?: "reject" | "queue";
  compression?: CompressionMethod | Partial<CompressionSettings>;
  limits?: Partial<{ [K in keyof SessionLimits]: number }>;
}

/** The filters and page size of `GET /v1/sessions`. */
export interface SessionListQuery {
  task_id?: string;
  client_id?: string;
  model?: string;
  state?: SessionState;
  /** Sessions per page, 1 to 100. @default 20 */
  limit?: number;
  /** The `next_cursor` of the previous page. */
  after?: string;
}

/** One page of `GET /v1/sessions`. */
export interface SessionPage {
  object: "list";
  data: Session[];
  has_more: boolean;
  next_cursor: string | null;
}

/** One turn as `GET /v1/sessions/:id/history` answers it. */
export interface SessionTurn {
  object: "session.turn";
  turn: number;
  status: "completed" | "cancelled";
  source: "session" | "chat_completions" | "responses" | "conversation";
  created_at: number;
  request_id: string;
  /** The messages the client sent (only the new ones). */
  input: SessionMessage[];
  /** The reply: one assistant message, or none when a cancel came before any output. */
  output: SessionMessage[];
  finish_reason: string | null;
  backend: string | null;
  usage: { prompt_tokens: number; completion_tokens: number; cached_tokens: number };
  /** What the model was sent; `prompt` is there when the history was asked with `include: "sent"`. */
  sent: {
    compaction: number;
    base_turn: number;
    messages: number;
    prompt_tokens: number;
    prompt?: SessionMessage[];
  };
}

/** A compaction as the history shows it. */
export interface SessionCompaction {
  object: "session.compaction";
  compaction: number;
  method: string;
  created_at: number;
  before_turn: number;
  tokens_before: number;
  tokens_after: number;
  actions: string[];
}

/** The paging of `GET /v1/sessions/:id/history`. */
export interface SessionHistoryQuery {
  /** Turns per page, 1 to 100. @default 20 */
  limit?: number;
  /** The `next_cursor` of the previous page (a turn number). */
  after?: string;
  /** `"sent"` adds each turn's whole prompt as `sent.prompt`. */
  include?: "sent";
}

/** One page of a session's history. */
export interface SessionHistoryPage {
  object: "list";
  session_id: string;
  data: SessionTurn[];
  compactions: SessionCompaction[];
  has_more: boolean;
  next_cursor: string | null;
}

/** The answer of `DELETE /v1/sessions/:id`. */
export interface SessionDeleted {
  id: string;
  object: "session.deleted";
  deleted: true;
}

/** The answer of `POST /v1/sessions/:id/cancel`: the turn cancelled, or null when none ran. */
export interface SessionCancelled {
  id: string;
  object: "session.cancel";
  turn: number | null;
  cancelled: boolean;
}

/**
 * A turn's body: only the new message(s), as `messages` or one `message` (a string is a user
 * message), and chat parameters (`max_tokens`, `tools`, `temperature`, ...).
 */
export type SessionTurnParams =
  & Omit<OpenAI.Chat.ChatCompletionCreateParamsNonStreaming, "messages" | "model" | "stream">
  & { model?: string }
  & (
    | { messages: SessionMessage[]; message?: never }
    | { message: string | SessionMessage; messages?: never }
  );

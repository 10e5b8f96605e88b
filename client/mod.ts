/** Turnpike's client helpers for TypeScript agents: session headers for any OpenAI SDK, and typed calls of the sessions and conversations APIs. */
export {
  DEFAULT_SESSION_HEADERS,
  SessionContext,
  type SessionContextOptions,
  type SessionHeaderNames,
  type SessionTiming,
} from "./session_context.ts";
export { type ExtendOptions, type TurnOptions, TurnpikeSessions } from "./sessions.ts";
export {
  type ConversationCreateParams,
  type ConversationInputItem,
  type ConversationItemsQuery,
  TurnpikeConversations,
} from "./conversations.ts";
export { type GatewayClientOptions, type OpenAIErrorBody, TurnpikeError } from "./http.ts";
export type {
  CompressionMethod,
  CompressionSettings,
  Session,
  SessionCancelled,
  SessionCompaction,
  SessionCreateParams,
  SessionDeleted,
  SessionHistoryPage,
  SessionHistoryQuery,
  SessionLimits,
  SessionListQuery,
  SessionMessage,
  SessionPage,
  SessionState,
  SessionTurn,
  SessionTurnParams,
} from "./session_types.ts";

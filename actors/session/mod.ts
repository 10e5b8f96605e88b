/** Durable agent sessions: the SessionActor, its KV records and store, limits, compression and expiry: what other folders may use. */
export {
  type AssistantMessage,
  type ChatMessage,
  ChatMessageSchema,
  checkToolPairs,
  contentText,
  type PairingProblem,
  type ToolCall,
  type ToolMessage,
} from "./messages.ts";
export {
  type CompactionRecord,
  type CompressionSettings,
  isSessionId,
  newSessionId,
  SESSION_STATES,
  type SessionHead,
  type SessionLimits,
  type TurnRecord,
} from "./records.ts";
export { type Refusal } from "./limits.ts";
export { asOwner, currentOwner } from "./owner.ts";
export { type Page, type SessionFilter, SessionStore } from "./store.ts";
export {
  type BeginResult,
  type CommitResult,
  endedRefusal,
  type TurnOutcome,
  type TurnPlan,
  type TurnRequest,
} from "./session_actor.ts";
export {
  type CreateSession,
  type Found,
  SessionService,
  type SessionServiceOptions,
} from "./service.ts";
export {
  deleteMessage,
  deleteMessagePart,
  type Edited,
  editTurn,
  type ForkOptions,
  forkSession,
  type MessagePart,
  updateMetadata,
  writtenMessages,
} from "./items.ts";
export { REAPER_KIND, reaperBehavior, type ReaperDeps } from "./reaper.ts";
export {
  COMPRESSION_METHODS,
  type CompressionMethod,
  type Summarizer,
} from "./compression/types.ts";

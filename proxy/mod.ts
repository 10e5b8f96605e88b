/** The gateway's HTTP surface: its app, its error shapes and its per-request records. */
export { type AppServices, createApp } from "./app.ts";
export { type ForwardContext, forwardOpenAI, type ForwardOptions } from "./openai/forward.ts";
export {
  errorBody,
  errorEvent,
  type ErrorOptions,
  errorResponse,
  type OpenAIErrorBody,
} from "./errors.ts";
export {
  type Percentiles,
  type RecordListener,
  type RecordPage,
  type RecordPageOptions,
  type RecordStats,
  recordStats,
  RecordStore,
  type RecordStoreOptions,
  type RequestRecord,
} from "./records.ts";
export {
  type LoggedRecord,
  type LogPage,
  type LogPageOptions,
  type LogSnapshot,
  RecordLog,
  type RecordLogOptions,
} from "./record_log.ts";
export { matchesRecord, type RecordFilter, type StatusClass } from "./record_filter.ts";
export { ChatCompletionBody, CompletionBody, EmbeddingBody } from "./openai/schemas.ts";
export { RegisterBackendBody, type RegisterBackendInput } from "./admin/schemas.ts";
export { Deadlines } from "./openai/deadlines.ts";

/** The gateway's HTTP surface: starting it, its app, its error shapes and its per-request records. */
export { freePort, type Gateway, type GatewayOptions, startGateway } from "./gateway.ts";
export { type AppServices, createApp } from "./app.ts";
export { type ForwardContext, forwardOpenAI } from "./forward.ts";
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
  type RecordStats,
  RecordStore,
  type RecordStoreOptions,
  type RequestRecord,
} from "./records.ts";
export {
  ChatCompletionBody,
  CompletionBody,
  EmbeddingBody,
  RegisterBackendBody,
  type RegisterBackendInput,
} from "./schemas.ts";

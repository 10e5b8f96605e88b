/** The vLLM-like simulator: an OpenAI-compatible replica with a calibrated engine model. */
export {
  DEFAULT_SIM_MODEL,
  type SimServer,
  type SimulatorOptions,
  startSimulator,
} from "./server.ts";
export {
  DEFAULT_KV_TOKENS,
  DEFAULT_OFFLOAD_BANDWIDTH_BYTES_PER_S,
  Engine,
  type EngineMetrics,
  type EngineOptions,
  type FinishReason,
  type LagStats,
  type SchedulingPolicy,
} from "./engine.ts";
export type { SequenceEvents, SequenceRequest, SequenceResult } from "./sequence.ts";
export {
  type Clock,
  type ClockTimer,
  RealClock,
  type RealClockOptions,
  VirtualClock,
} from "./clock.ts";
export {
  type Allocation,
  BLOCK_TOKENS,
  type BlockHold,
  KvCache,
  type KvCacheOptions,
  type PrefixCacheStats,
} from "./kv_cache.ts";
export { HostKvTier, kvTokensInGib } from "./host_tier.ts";
export {
  decodeStepMs,
  H100_LLAMA_8B,
  type LatencyModel,
  prefillAttentionMs,
  stepMs,
} from "./latency.ts";
export {
  APPROX_CHARS_PER_TOKEN,
  approxTokenizer,
  createTokenizer,
  type PromptTokenizer,
  type PromptTokens,
  type TokenizerMode,
} from "./tokens.ts";
export {
  type ChatTurn,
  renderChat,
  type RenderChatOptions,
  renderCompletion,
  type ToolCallText,
} from "./chat_template.ts";
export { type FaultPatch, FaultPatchSchema, Faults } from "./faults.ts";
export {
  blockText,
  parseTrace,
  promptText,
  type PromptTextOptions,
  traceBlockHashes,
  TraceError,
  type TraceRequest,
  TraceRequestSchema,
} from "./trace.ts";
export { quantile, summarize, type Summary } from "./stats.ts";
export { type ReplayOptions, type ReplayReport, replayTrace } from "./replay.ts";
export { type HttpReplayOptions, type HttpReplayReport, replayTraceHttp } from "./http_replay.ts";
export { type CalibrationRow, calibrationRows } from "./calibration.ts";
export { parseSimArgs, type SimCommandPlan, startReplicas } from "./command.ts";
export { type SimChild, spawnSim, type SpawnSimOptions } from "./child.ts";
export { mulberry32 } from "./random.ts";
export { chunkedPrefillRows } from "./calibration.ts";
export { measureStreams, type StreamsReport } from "./streams_check.ts";
export { simCommand } from "./command.ts";

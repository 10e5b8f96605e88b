/** Session context compression: one pure function per method, the registry, and the policy. */
export * from "./types.ts";
export { compressorFor, COMPRESSORS } from "./registry.ts";
export {
  type CompactionPlan,
  type ContextOverflow,
  contextOverflow,
  contextTokens,
  planCompaction,
} from "./policy.ts";
export {
  APPROX_CHARS_PER_TOKEN,
  approxTokenCounter,
  loadTokenCounter,
  MESSAGE_TEMPLATE_TOKENS,
  type TokenCounter,
} from "./tokens.ts";
export { slidingWindow } from "./sliding_window.ts";
export { summarize } from "./summarize.ts";
export { importance } from "./importance.ts";
export { hierarchical } from "./hierarchical.ts";
export { maskObservations } from "./mask_observations.ts";

/** Routing strategies: the registry, the weighted picker and the seam types. */
export { CHARS_PER_TOKEN, createPicker, strategyLabel, strategyOptions } from "./picker.ts";
export {
  PICK_REASONS,
  type PickExplanation,
  type PickNote,
  pickNote,
  type PickReason,
} from "./pick_note.ts";
export { STRATEGY_NAMES, type StrategyName, type StrategySpec } from "./names.ts";
export { needsPromptText, STRATEGIES, strategyFactory } from "./registry.ts";
export { PrefixIndex } from "./prefix_aware.ts";
export type {
  BackendView,
  CacheReport,
  Picker,
  RequestFeatures,
  Strategy,
  StrategyFactory,
  StrategyOptions,
} from "./types.ts";

/** Routing strategies: the registry, the weighted picker and the seam types. */
export { CHARS_PER_TOKEN, createPicker, strategyOptions } from "./picker.ts";
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

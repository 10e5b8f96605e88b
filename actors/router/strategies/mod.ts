/** Routing strategies: the registry, the weighted picker and the seam types. */
export { CHARS_PER_TOKEN, createPicker, strategyOptions, type StrategySpec } from "./picker.ts";
export { STRATEGIES } from "./registry.ts";
export { PrefixIndex } from "./prefix_aware.ts";
export type {
  BackendView,
  Picker,
  RequestFeatures,
  ScrapedLoad,
  Strategy,
  StrategyFactory,
  StrategyOptions,
} from "./types.ts";

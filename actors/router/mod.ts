/** RouterActor (one per model), the routing table it publishes, the fleet the gateway drives, request features and strategies: what other folders may use. */
export {
  backendIdFromUrl,
  type BackendStatus,
  Fleet,
  type FleetOptions,
  type ModelStatus,
} from "./fleet.ts";
export { ModelRouter, type RouterLimits, type RouterPlacements } from "./model_router.ts";
export {
  type PlacementRouters,
  PlacementShare,
  type PlacementShareOptions,
  uncachedChars,
} from "./placements.ts";
export {
  type RegisterBackend,
  type Registration,
  type RegistrationResult,
  Registrations,
  RegistrationSchema,
  type RegistrationsOptions,
} from "./registrations.ts";
export {
  type BackendLink,
  type InFlightCount,
  linkOf,
  type Member,
  type RoutedBackend,
  RoutedView,
  RoutingTable,
} from "./routing_table.ts";
export {
  type AddBackend,
  type AddResult,
  type CacheReportMessage,
  ROUTER_KIND,
  type RouterActorOptions,
  type RouterActorState,
  routerAddress,
  routerBehavior,
  type RouterMessage,
} from "./router_actor.ts";
export { requestFeatures, type RequestFeaturesOptions } from "./features.ts";
export {
  type BackendView,
  type CacheReport,
  CHARS_PER_TOKEN,
  createPicker,
  needsPromptText,
  PICK_REASONS,
  type Picker,
  type PickNote,
  pickNote,
  type PickReason,
  PrefixIndex,
  type RequestFeatures,
  STRATEGIES,
  type Strategy,
  STRATEGY_NAMES,
  type StrategyFactory,
  strategyFactory,
  strategyLabel,
  type StrategyName,
  type StrategyOptions,
  strategyOptions,
  type StrategySpec,
} from "./strategies/mod.ts";

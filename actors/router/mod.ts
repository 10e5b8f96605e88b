/** RouterActor (one per model), its in-memory routing view, the fleet the gateway drives, request features and strategies. */
export {
  backendIdFromUrl,
  type BackendStatus,
  Fleet,
  type FleetOptions,
  type ModelStatus,
} from "./fleet.ts";
export { ModelRouter, type RoutedBackend } from "./model_router.ts";
export {
  type AddBackend,
  type AddResult,
  backendAddress,
  type Member,
  type MemberStatus,
  ROUTER_KIND,
  type RouterActorOptions,
  type RouterActorState,
  routerAddress,
  routerBehavior,
  type RouterMessage,
} from "./router_actor.ts";
export { requestFeatures, type RequestFeaturesOptions } from "./features.ts";
export * from "./strategies/mod.ts";

/** Run-time routing changes with SLO-judged canaries, and the routes of routing and SLOs. */
export {
  DEFAULT_CANARY_WINDOW_S,
  RoutingController,
  type RoutingControllerOptions,
  type RoutingRefusal,
} from "./controller.ts";
export { routingRoutes, type RoutingServices } from "./routes.ts";
export {
  type SharedCanary,
  type SharedChanges,
  type SharedEntry,
  SharedEntrySchema,
  SharedRouting,
  specKey,
} from "./shared_routing.ts";

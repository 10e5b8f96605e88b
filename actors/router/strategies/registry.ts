/** The registry of routing strategies: config name to factory. Adding a strategy is one file and one line here. */
import type { StrategyName } from "../../../config/schema.ts";
import { leastConnections } from "./least_connections.ts";
import { leastLatency } from "./least_latency.ts";
import { leastLoad } from "./least_load.ts";
import { prefixAware } from "./prefix_aware.ts";
import { roundRobin } from "./round_robin.ts";
import { sessionAffinity } from "./session_affinity.ts";
import type { StrategyFactory } from "./types.ts";

/** Every strategy a config may name, by its name. */
export const STRATEGIES: Readonly<Record<StrategyName, StrategyFactory>> = {
  round_robin: roundRobin,
  least_connections: leastConnections,
  least_latency: leastLatency,
  least_load: leastLoad,
  session_affinity: sessionAffinity,
  prefix_aware: prefixAware,
};

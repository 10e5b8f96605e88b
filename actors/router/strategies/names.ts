/**
 * The names of the routing strategies, owned by the registry (registry.ts maps each to its
 * factory, and the compiler checks that every name has one). A leaf module: the config schema
 * imports it to validate `proxy.strategy`, without pulling in the strategies themselves.
 */

/** Names of the routing strategies a config may choose. */
export const STRATEGY_NAMES = [
  "round_robin",
  "least_connections",
  "least_latency",
  "least_load",
  "session_affinity",
  "prefix_aware",
  "sglang_cache_aware",
  "llmd_default",
  "consistent_hash",
] as const;

/** A routing strategy's name. */
export type StrategyName = typeof STRATEGY_NAMES[number];

/** `proxy.strategy`: one strategy name, or strategy names with positive weights. */
export type StrategySpec = StrategyName | Partial<Record<StrategyName, number>>;

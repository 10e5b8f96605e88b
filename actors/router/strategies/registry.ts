/**
 * The registry of routing strategies: config name to factory. Adding a strategy is one file, its
 * name in names.ts and one line here (the compiler rejects a name without a factory).
 */
import { consistentHash } from "./consistent_hash.ts";
import { leastConnections } from "./least_connections.ts";
import { llmdDefault } from "./llmd_default.ts";
import { leastLatency } from "./least_latency.ts";
import { leastLoad } from "./least_load.ts";
import { prefixAware } from "./prefix_aware.ts";
import { roundRobin } from "./round_robin.ts";
import { sessionAffinity } from "./session_affinity.ts";
import { sglangCacheAware } from "./sglang_cache_aware.ts";
import type { StrategyName, StrategySpec } from "./names.ts";
import type { StrategyFactory } from "./types.ts";

/** Every strategy a config may name, by its name. */
export const STRATEGIES: Readonly<Record<StrategyName, StrategyFactory>> = {
  round_robin: roundRobin,
  least_connections: leastConnections,
  least_latency: leastLatency,
  least_load: leastLoad,
  session_affinity: sessionAffinity,
  prefix_aware: prefixAware,
  sglang_cache_aware: (options) => sglangCacheAware(options),
  llmd_default: llmdDefault,
  consistent_hash: consistentHash,
};

/**
 * The strategies that read the prompt's text (`RequestFeatures.promptText`) rather than only its
 * block hashes: the hot path builds the text only when a configured strategy is one of them.
 */
export const NEEDS_PROMPT_TEXT: ReadonlySet<StrategyName> = new Set<StrategyName>([
  "sglang_cache_aware",
  "llmd_default",
]);

/** Whether `spec` names a strategy (with a positive weight) that reads the prompt's text. */
export function needsPromptText(spec: StrategySpec): boolean {
  if (typeof spec === "string") return NEEDS_PROMPT_TEXT.has(spec);
  return Object.entries(spec).some(([name, weight]) =>
    (weight ?? 0) > 0 && NEEDS_PROMPT_TEXT.has(name as StrategyName)
  );
}

/** The factory of strategy `name`; throws, naming the known ones, for a name no strategy has. */
export function strategyFactory(name: string): StrategyFactory {
  const factory = Object.hasOwn(STRATEGIES, name) ? STRATEGIES[name as StrategyName] : undefined;
  if (!factory) {
    throw new Error(
      `Unknown routing strategy "${name}": choose one of ${Object.keys(STRATEGIES).join(", ")}`,
    );
  }
  return factory;
}

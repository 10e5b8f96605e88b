/** `least_connections`: the candidate with the fewest requests in flight from this gateway. */
import { inverseScores } from "./_scores.ts";
import type { BackendView, RequestFeatures, Strategy, StrategyOptions } from "./types.ts";

/** Scores candidates by the gateway's in-flight count: fewest scores 1. */
export function leastConnections(_options: StrategyOptions): Strategy {
  return {
    name: "least_connections",
    score(_request: RequestFeatures, candidates: readonly BackendView[]): number[] {
      return inverseScores(candidates.map((c) => c.inFlight));
    },
  };
}

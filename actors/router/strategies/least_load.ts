/** `least_load`: the candidate with the least work, from its scraped vLLM gauges and the gateway's in-flight count. */
import { inverseScores, loadCost } from "./_scores.ts";
import type { BackendView, RequestFeatures, Strategy, StrategyOptions } from "./types.ts";

/** Scores candidates by their load cost (in-flight, running, waiting, KV usage): the least loaded scores 1. */
export function leastLoad(options: StrategyOptions): Strategy {
  return {
    name: "least_load",
    score(_request: RequestFeatures, candidates: readonly BackendView[]): number[] {
      const now = options.now();
      return inverseScores(candidates.map((c) => loadCost(c, now)));
    },
  };
}

/** `least_latency`: the candidate with the lowest EWMA time to first token, weighted by its in-flight count. */
import { inverseScores } from "./_scores.ts";
import type { BackendView, RequestFeatures, Strategy, StrategyOptions } from "./types.ts";

/** Added to every TTFT so that in-flight counts still separate backends whose EWMA is near zero. */
const TTFT_FLOOR_MS = 1;

/**
 * Scores candidates by expected TTFT times (in-flight + 1), so a fast replica is not flooded (a
 * "peak EWMA" cost). The view's EWMA is already decayed while the backend idles (the backend
 * actor fades it), so a replica that was slow once is retried later. A backend without a sample
 * yet is assumed as fast as the fastest known one, so new replicas get traffic.
 */
export function leastLatency(_options: StrategyOptions): Strategy {
  return {
    name: "least_latency",
    score(_request: RequestFeatures, candidates: readonly BackendView[]): number[] {
      let fastest = Infinity;
      for (const c of candidates) {
        if (c.ewmaTtftMs !== undefined && c.ewmaTtftMs < fastest) fastest = c.ewmaTtftMs;
      }
      if (fastest === Infinity) fastest = 0;
      return inverseScores(
        candidates.map((c) => ((c.ewmaTtftMs ?? fastest) + TTFT_FLOOR_MS) * (c.inFlight + 1)),
      );
    },
  };
}

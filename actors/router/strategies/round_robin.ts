/** `round_robin`: each pick goes to the next candidate in turn. */
import type { BackendView, RequestFeatures, Strategy, StrategyOptions } from "./types.ts";

/**
 * Scores 1 for the candidate whose turn it is and 0 for the others. The turn follows the
 * candidates' ids in sorted order, so a backend joining or leaving does not reset the rotation.
 */
export function roundRobin(_options: StrategyOptions): Strategy {
  let lastId: string | undefined;
  return {
    name: "round_robin",
    score(_request: RequestFeatures, candidates: readonly BackendView[]): number[] {
      if (candidates.length === 0) return [];
      // The next id after the last chosen one, wrapping to the smallest.
      let next = -1;
      let smallest = 0;
      for (let i = 0; i < candidates.length; i++) {
        const id = candidates[i]!.id;
        if (id < candidates[smallest]!.id) smallest = i;
        if (lastId !== undefined && id > lastId && (next < 0 || id < candidates[next]!.id)) {
          next = i;
        }
      }
      const turn = next < 0 ? smallest : next;
      return candidates.map((_, i) => (i === turn ? 1 : 0));
    },
    observe(_request: RequestFeatures, chosen: BackendView): void {
      lastId = chosen.id;
    },
  };
}

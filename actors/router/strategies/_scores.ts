/** Score helpers shared by the strategies of this folder: cost-to-score mapping and the load bound. */
import type { BackendView } from "./types.ts";

/**
 * Maps non-negative costs to scores in (0, 1]: the cheapest gets 1, the others
 * `(min + 1) / (cost + 1)`, so one request more on an idle replica halves its score while the
 * same step on a busy one barely moves it.
 */
export function inverseScores(costs: readonly number[]): number[] {
  let min = Infinity;
  for (const c of costs) if (c < min) min = c;
  return costs.map((c) => (min + 1) / (c + 1));
}

/** The load the bounded strategies compare: requests this gateway has in flight on the backend. */
export function backendLoad(backend: BackendView): number {
  return backend.inFlight;
}

/** Mean of {@linkcode backendLoad} over `candidates`. */
export function meanLoad(candidates: readonly BackendView[]): number {
  if (candidates.length === 0) return 0;
  let sum = 0;
  for (const c of candidates) sum += backendLoad(c);
  return sum / candidates.length;
}

/**
 * Whether a backend may take one more request routed by stickiness or cache: its load stays
 * within `loadBound` times the mean load plus one request.
 */
export function withinLoadBound(load: number, mean: number, loadBound: number): boolean {
  return load <= loadBound * mean + 1;
}

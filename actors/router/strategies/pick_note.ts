/** Why the router picked a backend: bounded reason codes and the note a pick fills in for the caller. */

/** Codes for why a backend was picked: bounded, so they may label metrics. */
export const PICK_REASONS = [
  "prefix_hit",
  "affinity",
  "load_shed",
  "balanced",
  "only_candidate",
  "fallback",
  "queued",
] as const;

/**
 * Why a backend was picked: its cached prefix (`prefix_hit`), the session's replica (`affinity`),
 * away from the session's replica past the load bound (`load_shed`), by load, latency or turn
 * (`balanced`), the only one with room (`only_candidate`), on a retry after a failure
 * (`fallback`), or by admission control once a slot freed (`queued`).
 */
export type PickReason = typeof PICK_REASONS[number];

/** What a strategy says of its pick among the candidates of its last `score` call. */
export interface PickExplanation {
  reason: PickReason;
}

/** What a pick tells its caller beside the backend (filled in when passed to `pick`). */
export interface PickNote {
  /** The picking strategy's label: its name, or its weighted names sorted and joined by `+`. */
  strategy: string;
  reason: PickReason;
  /** The router's estimate of the share of the prompt's prefix blocks the chosen replica holds. */
  prefixShare?: number;
  /** Which side of a routing canary picked, while one runs. */
  arm?: "canary" | "incumbent";
}

/** A fresh note to pass to `pick`. */
export function pickNote(): PickNote {
  return { strategy: "", reason: "balanced" };
}

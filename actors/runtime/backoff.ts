/** Restart arithmetic for supervisors: exponential backoff with jitter and the intensity window. */
import type { BackoffOptions } from "./types.ts";

/** Backoff settings with every default filled in. */
export type ResolvedBackoff = Required<BackoffOptions>;

/** Fills in the defaults of {@linkcode BackoffOptions}. */
export function resolveBackoff(options: BackoffOptions | undefined): ResolvedBackoff {
  return {
    minMs: options?.minMs ?? 100,
    maxMs: options?.maxMs ?? 10_000,
    randomFactor: options?.randomFactor ?? 0.2,
  };
}

/**
 * The delay before restart number `attempt` (0 for the first): `minMs * 2^attempt` capped at
 * `maxMs`, then stretched by up to `randomFactor` so that siblings do not restart in lockstep.
 */
export function backoffDelayMs(
  backoff: ResolvedBackoff,
  attempt: number,
  random: () => number = Math.random,
): number {
  const base = Math.min(backoff.maxMs, backoff.minMs * 2 ** Math.max(0, attempt));
  return Math.round(base * (1 + random() * backoff.randomFactor));
}

/** Counts restarts in a sliding window; `record()` says whether the intensity is exceeded. */
export class RestartWindow {
  #times: number[] = [];
  readonly #intensity: number;
  readonly #periodMs: number;

  /** Starts an empty window. @param intensity restarts allowed within the window, @param periodMs the window's length */
  constructor(intensity: number, periodMs: number) {
    this.#intensity = intensity;
    this.#periodMs = periodMs;
  }

  /** Restarts recorded within the window ending at `nowMs`. */
  count(nowMs: number): number {
    this.#forget(nowMs);
    return this.#times.length;
  }

  /** Records a restart at `nowMs`; true when that makes more than `intensity` in the window. */
  record(nowMs: number): boolean {
    this.#forget(nowMs);
    this.#times.push(nowMs);
    return this.#times.length > this.#intensity;
  }

  #forget(nowMs: number): void {
    const from = nowMs - this.#periodMs;
    while (this.#times.length > 0 && (this.#times[0] as number) <= from) this.#times.shift();
  }
}

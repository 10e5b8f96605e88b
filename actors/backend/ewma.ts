/** Exponentially weighted moving averages of latency that fade while a replica is idle. */

/** An EWMA with the time of its last sample. */
export interface Ewma {
  /** The average, in ms; undefined before the first sample. */
  readonly value: number | undefined;
  /** When the last sample came, in ms since the epoch. */
  readonly sampledAtMs: number;
}

/** Settings of an EWMA. */
export interface EwmaOptions {
  /** Weight of a new sample, in (0, 1]. */
  alpha: number;
  /** Idle time after which the average has faded to half, in ms. */
  halfLifeMs: number;
}

/** Default settings: a new sample weighs 0.2, idle averages halve every 30 s. */
export const DEFAULT_EWMA_OPTIONS: EwmaOptions = { alpha: 0.2, halfLifeMs: 30_000 };

/** An EWMA with no samples. */
export function emptyEwma(): Ewma {
  return { value: undefined, sampledAtMs: 0 };
}

/** Adds a sample taken at `nowMs`. */
export function ewmaAdd(
  ewma: Ewma,
  sampleMs: number,
  nowMs: number,
  options: EwmaOptions = DEFAULT_EWMA_OPTIONS,
): Ewma {
  const value = ewma.value === undefined
    ? sampleMs
    : ewma.value + options.alpha * (sampleMs - ewma.value);
  return { value, sampledAtMs: nowMs };
}

/**
 * The average as seen at `nowMs`: it halves for every `halfLifeMs` without samples, so a replica
 * that was slow once is tried again once it has been idle a while.
 */
export function ewmaRead(
  ewma: Ewma,
  nowMs: number,
  options: EwmaOptions = DEFAULT_EWMA_OPTIONS,
): number | undefined {
  if (ewma.value === undefined) return undefined;
  const idleMs = Math.max(0, nowMs - ewma.sampledAtMs);
  return ewma.value * Math.pow(0.5, idleMs / options.halfLifeMs);
}

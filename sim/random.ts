/** The one seeded pseudo-random generator: the same seed gives the same sequence, for replayable traces, picks and tests. */

/**
 * A mulberry32 generator seeded by `seed` (any integer; taken mod 2^32): each call returns the
 * next number in [0, 1), as `Math.random` does.
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

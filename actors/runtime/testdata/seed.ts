/**
 * Test helper: a seed for a randomized test, from `TURNPIKE_TEST_SEED` or drawn fresh, and a
 * generator on it; a failure prints the seed so the run can be replayed.
 */
import { mulberry32 } from "../../../sim/mod.ts";

/** What a seeded test body gets. */
export interface Seeded {
  /** The seed of this run. */
  seed: number;
  /** Numbers in [0, 1) from the seed, in place of `Math.random`. */
  random: () => number;
}

/** The seed of this run: `TURNPIKE_TEST_SEED` when set, else a fresh one. */
export function testSeed(): number {
  const fromEnv = Deno.env.get("TURNPIKE_TEST_SEED");
  if (fromEnv === undefined || fromEnv === "") return Math.floor(Math.random() * 2 ** 32);
  const seed = Number(fromEnv);
  if (!Number.isInteger(seed)) {
    throw new Error(`TURNPIKE_TEST_SEED must be an integer, got "${fromEnv}"`);
  }
  return seed;
}

/**
 * Wraps a test body that draws random numbers: it gets a seeded generator, and when it fails the
 * seed is printed with the command line that replays it.
 *
 * @example
 * ```ts
 * Deno.test("kills at a random moment", seeded(async ({ random }) => { ... }));
 * ```
 */
export function seeded(body: (seeded: Seeded) => Promise<void>): () => Promise<void> {
  return async () => {
    const seed = testSeed();
    try {
      await body({ seed, random: mulberry32(seed) });
    } catch (error) {
      console.error(`This run's seed was ${seed}; replay it with TURNPIKE_TEST_SEED=${seed}`);
      throw error;
    }
  };
}

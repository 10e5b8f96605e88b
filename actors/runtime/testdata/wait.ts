/**
 * Test helper, the one every test folder uses: waits for a condition with a deadline instead of
 * sleeping a fixed time.
 */

/** Options of {@linkcode waitFor}. */
export interface WaitForOptions {
  /**
   * Give up after this long, in ms. Generous because a loaded machine can stall a test for
   * seconds, and it only bounds a test that fails. @default 30000
   */
  timeoutMs?: number;
  /** Time between checks, in ms. @default 5 */
  everyMs?: number;
  /**
   * A check that throws is tried again (a server still starting, a command not yet answering),
   * and the last error is named if time runs out. @default false: the error fails the wait
   */
  retryErrors?: boolean;
}

/**
 * Polls `check` every `everyMs` until it returns a value other than undefined or false, and
 * resolves to that value; throws naming `what` after `timeoutMs`.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  options: WaitForOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    let value: T | undefined | false = undefined;
    try {
      value = await check();
    } catch (error) {
      if (!options.retryErrors) throw error;
      last = error;
    }
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      const cause = last === undefined ? "" : `: ${last}`;
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await new Promise((r) => setTimeout(r, options.everyMs ?? 5));
  }
}

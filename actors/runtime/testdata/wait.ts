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
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, options.everyMs ?? 5));
  }
}

/** Test helper: waits for a condition with a deadline instead of sleeping a fixed time. */

/** Polls `check` every `everyMs` until it returns a value other than undefined/false. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  options: { timeoutMs?: number; everyMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${options.timeoutMs ?? 10_000} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, options.everyMs ?? 5));
  }
}

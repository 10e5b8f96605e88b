/** Retries a KV operation that SQLite refused with "database is locked" while another process wrote the same file. */

/**
 * Whether `error` is SQLite's busy refusal. A read that turns into a write (a `kv.atomic()` with
 * a `check`) fails at once this way, without waiting, when another process on the file writes.
 */
export function isKvBusy(error: unknown): boolean {
  return error instanceof Error && error.message.includes("database is locked");
}

/** Options of {@linkcode retryKvBusy}. */
export interface RetryKvBusyOptions {
  /** Tries in all before the error is thrown. @default 20 */
  attempts?: number;
}

/** Runs `fn`, running it again after a short random pause while it fails with {@linkcode isKvBusy}. */
export async function retryKvBusy<T>(
  fn: () => Promise<T>,
  options: RetryKvBusyOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? 20;
  for (let attempt = 1;; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (!isKvBusy(error) || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
    }
  }
}

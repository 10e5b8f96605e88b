/** KV write failures of the state store (disk full, read-only file system) as the 503 `storage_unavailable` clients get. */
import { errorResponse } from "./errors.ts";

/** What SQLite (under Deno KV) says when its file cannot take a write. */
const STORAGE_FAILURE =
  /database or disk is full|disk I\/O error|readonly database|read-only file system|no space left on device/i;

/** Seconds a client is told to wait before retrying a write the store refused. */
export const STORAGE_RETRY_AFTER_SECONDS = "5";

/** The message of a `storage_unavailable` answer. */
const MESSAGE =
  "The gateway's state store cannot take writes right now (its disk is full or read-only); " +
  "reads still work; retry the write later";

/** Whether `error` is the state store refusing a write (not a bug, not the client's mistake). */
export function isStorageFailure(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return STORAGE_FAILURE.test(message);
}

/** The 503 `storage_unavailable` answer, with Retry-After. */
export function storageUnavailable(): Response {
  return errorResponse(503, MESSAGE, {
    type: "server_error",
    code: "storage_unavailable",
    headers: { "retry-after": STORAGE_RETRY_AFTER_SECONDS },
  });
}

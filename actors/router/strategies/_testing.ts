/** Builders of backend views, request features and options for this folder's tests. */
import type { BackendView, RequestFeatures, StrategyOptions } from "./types.ts";

/** A backend view with defaults (idle, no samples) overridden by `fields`. */
export function view(id: string, fields: Partial<BackendView> = {}): BackendView {
  return {
    id,
    url: `http://127.0.0.1/${id}`,
    inFlight: 0,
    ewmaTtftMs: undefined,
    load: undefined,
    ...fields,
  };
}

/** Request features with the given prefix hashes and session. */
export function request(
  prefixHashes: readonly number[] = [],
  sessionId: string | undefined = undefined,
): RequestFeatures {
  return { model: "m", sessionId, prefixHashes, promptChars: prefixHashes.length * 100 };
}

/** Strategy options with a fixed clock at `nowMs`. */
export function options(fields: Partial<StrategyOptions> = {}, nowMs = 1_000_000): StrategyOptions {
  return {
    loadBound: 1.5,
    prefixBlockChars: 100,
    prefixCacheBlocks: 1000,
    now: () => nowMs,
    ...fields,
  };
}

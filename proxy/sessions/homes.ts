/**
 * Session homes for plain `/v1/chat/completions` calls that carry the session header: the replica
 * each session was served by last, so that several gateway processes on one KV file route a
 * conversation alike. The session head in KV names the replica (the plain recorder writes it
 * after every call, from whichever gateway served it). A process-local map answers at once and
 * each call refreshes its session's entry from KV in the background, for the next call; only the
 * first call of a session this process has not seen reads KV before routing, one point read
 * bounded by `firstReadMs` (past it, the call is routed without a home). Alone on the store, such
 * a read finds a home only for a session served before this process started, so it is given far
 * less time ({@linkcode FIRST_READ_ALONE_MS}) than while another gateway process may have served
 * the session ({@linkcode FIRST_READ_SHARED_MS}).
 */
import { errorField, logger } from "../../actors/runtime/log.ts";

/**
 * Longest wait for the first read of a session, in ms, while other gateway processes share the
 * store: one of them may have served it, and its replica holds the conversation.
 */
export const FIRST_READ_SHARED_MS = 20;

/**
 * The same wait while this process is alone on the store. Most such sessions are new (no home to
 * find) and the read waits behind KV's writes: on the mixed trace at 120 requests/s (`bench
 * routing --trace mixed`, nearly every call a session's first) it took, on the writing KV handle,
 * 0.2-0.5 ms p50, 1-4 ms p90 and 3-21 ms p99, all of it added to the call's time to first token.
 * A session served before a restart still finds its home when KV answers in this time, and on
 * its next call otherwise.
 */
export const FIRST_READ_ALONE_MS = 2;

/** Looks up the replica a session was served by last; null or undefined when none is known. */
export type HomeLookup = (sessionId: string) => Promise<string | null | undefined>;

/** Options of {@linkcode SessionHomes}. */
export interface SessionHomesOptions {
  /** Sessions kept in memory, least recently used out first. @default 100_000 */
  maxSessions?: number;
  /**
   * Longest wait for the first read of a session this process has not seen, in ms, or a function
   * asked at each such read (e.g. one bound alone on the store, another shared).
   * @default FIRST_READ_SHARED_MS
   */
  firstReadMs?: number | (() => number);
}

/** The process-local map of session homes, refreshed from KV off the hot path. */
export class SessionHomes {
  readonly #lookup: HomeLookup;
  readonly #max: number;
  readonly #firstReadMs: () => number;
  // Map keeps insertion order: a touched entry is re-inserted at the end.
  readonly #homes = new Map<string, string>();
  /** Sessions with a refresh in flight: one at a time each. */
  readonly #refreshing = new Set<string>();
  #lastError = 0;

  /** @param lookup reads a session's last replica from KV, @param options the map's bound */
  constructor(lookup: HomeLookup, options: SessionHomesOptions = {}) {
    this.#lookup = lookup;
    this.#max = Math.max(1, options.maxSessions ?? 100_000);
    const bound = options.firstReadMs ?? FIRST_READ_SHARED_MS;
    this.#firstReadMs = typeof bound === "number" ? () => bound : bound;
  }

  /** Sessions held. */
  get size(): number {
    return this.#homes.size;
  }

  /**
   * The replica `sessionId` was served by last: as this process knows it (with a background
   * refresh from KV for the next call), or, for a session it has not seen, as KV says within
   * `firstReadMs`.
   */
  get(sessionId: string): string | undefined | Promise<string | undefined> {
    const home = this.#homes.get(sessionId);
    const read = this.#refresh(sessionId);
    if (home !== undefined || read === undefined) return home;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), Math.max(0, this.#firstReadMs()));
    });
    return Promise.race([read, late]).finally(() => clearTimeout(timer));
  }

  /** Records that this process just served `sessionId` on `backend`. */
  set(sessionId: string, backend: string): void {
    this.#homes.delete(sessionId);
    this.#homes.set(sessionId, backend);
    while (this.#homes.size > this.#max) {
      const oldest = this.#homes.keys().next().value;
      if (oldest === undefined) break;
      this.#homes.delete(oldest);
    }
  }

  /** Resolves once every refresh in flight has landed (for tests). */
  async settled(): Promise<void> {
    while (this.#refreshing.size > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  /** Reads the session's home from KV into the map, unless a read is in flight already. */
  #refresh(sessionId: string): Promise<string | undefined> | undefined {
    if (this.#refreshing.has(sessionId)) return undefined;
    this.#refreshing.add(sessionId);
    return this.#lookup(sessionId).then(
      (backend) => {
        if (typeof backend !== "string" || backend === "") return undefined;
        this.set(sessionId, backend);
        return backend;
      },
      (error) => {
        // A KV hiccup costs affinity hints only; say so at most every 10 s.
        const now = Date.now();
        if (now - this.#lastError >= 10_000) {
          this.#lastError = now;
          logger.warn("reading a session's last replica failed", { error: errorField(error) });
        }
        return undefined;
      },
    ).finally(() => this.#refreshing.delete(sessionId));
  }
}

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
 *
 * Alone on the store, once it has read every home KV holds ({@linkcode AloneOnStore}), the map
 * answers by itself: this process is then the only writer of homes, so a session it does not
 * know has none, and its own last choice is KV's. No call then reads KV for its home, on the way
 * to the replica or after. The map stops answering alone as soon as another gateway process is
 * seen on the store (it reads again, and scans again once alone), or when it had to drop a
 * session for room.
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

/** What lets a {@linkcode SessionHomes} answer from memory alone (see {@linkcode SessionHomesOptions.alone}). */
export interface AloneOnStore {
  /**
   * Since when (ms) no other gateway process has been seen on the store; undefined while one may
   * be there (or before that is known).
   */
  since(): number | undefined;
  /** Every session's home as KV holds it: session id and replica. */
  scan(): AsyncIterable<readonly [string, string]>;
}

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
  /**
   * Whether this process is alone on the store, and how to read every home: with it, the map
   * answers without KV while alone, once a scan taken in that time has landed.
   */
  alone?: AloneOnStore;
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
  readonly #alone: AloneOnStore | undefined;
  /** The `alone.since()` the last scan was started for; a scan per stretch alone. */
  #scannedFor: number | undefined;
  /** The stretch alone the map holds every home of (its scan landed, nothing dropped since). */
  #complete: number | undefined;
  /** The scan in flight, if any. */
  #scanning: Promise<void> | undefined;

  /** @param lookup reads a session's last replica from KV, @param options the map's bound */
  constructor(lookup: HomeLookup, options: SessionHomesOptions = {}) {
    this.#lookup = lookup;
    this.#max = Math.max(1, options.maxSessions ?? 100_000);
    const bound = options.firstReadMs ?? FIRST_READ_SHARED_MS;
    this.#firstReadMs = typeof bound === "number" ? () => bound : bound;
    this.#alone = options.alone;
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
    if (this.#answersAlone()) return home;
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
      // A session dropped for room may come back: KV is asked again, until the next stretch alone.
      this.#complete = undefined;
    }
  }

  /** Whether the map holds every home there is now; starts the scan that makes it so when due. */
  #answersAlone(): boolean {
    const since = this.#alone?.since();
    if (since === undefined) return false;
    if (since === this.#complete) return true;
    if (since !== this.#scannedFor) {
      this.#scannedFor = since;
      const scan = this.#scanning = this.#scan(since).finally(() => {
        if (this.#scanning === scan) this.#scanning = undefined;
      });
    }
    return false;
  }

  /**
   * Reads every home KV holds into the map, except where it holds one already: this process's
   * own choice, newer than what its recorder may not have written yet. (One another gateway
   * process wrote last, while this one held an older home, is followed once more, as a call
   * before the refresh of its session followed it.)
   */
  async #scan(since: number): Promise<void> {
    const alone = this.#alone!;
    try {
      for await (const [sessionId, backend] of alone.scan()) {
        if (alone.since() !== since) return;
        if (this.#homes.has(sessionId)) continue;
        // More homes than the map holds: it keeps asking KV.
        if (this.#homes.size >= this.#max) return;
        this.#homes.set(sessionId, backend);
      }
      if (alone.since() === since) this.#complete = since;
    } catch (error) {
      this.#warn("reading the sessions' last replicas failed", error);
    }
  }

  #warn(message: string, error: unknown): void {
    // A KV hiccup costs affinity hints only; say so at most every 10 s.
    const now = Date.now();
    if (now - this.#lastError >= 10_000) {
      this.#lastError = now;
      logger.warn(message, { error: errorField(error) });
    }
  }

  /** Resolves once every refresh and the scan in flight have landed (for tests). */
  async settled(): Promise<void> {
    await this.#scanning;
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
        this.#warn("reading a session's last replica failed", error);
        return undefined;
      },
    ).finally(() => this.#refreshing.delete(sessionId));
  }
}

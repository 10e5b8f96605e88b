/**
 * The dashboards' data layer: polls the gateway every interval, keeps the latest snapshot and the
 * histories, and rides out the gateway going away (disconnected, reconnect with exponential backoff).
 */
import { Disconnected, fetchSnapshot, type GetPath, type Snapshot } from "./feed.ts";
import { emptyHistory, type History, recordSamples, samplesOf } from "./history.ts";

/** Whether the gateway answers. */
export type Connection =
  | { state: "connecting" }
  | { state: "connected"; sinceMs: number }
  | {
    state: "disconnected";
    sinceMs: number;
    error: string;
    /** Failed polls in a row. */
    attempts: number;
    /** When the next try is, ms since the epoch. */
    retryAtMs: number;
  };

/** What the dashboards draw from. */
export interface FeedState {
  connection: Connection;
  /** The latest snapshot: kept while disconnected, so the panels show the last known figures. */
  snapshot: Snapshot | undefined;
  history: History;
}

/** The first retry after a failed poll, in ms; each next one doubles, up to {@linkcode MAX_BACKOFF_MS}. */
export const FIRST_BACKOFF_MS = 500;
/** The longest wait between retries, in ms. */
export const MAX_BACKOFF_MS = 10_000;

/** How long to wait before retry number `attempts` (1 for the first), in ms. */
export function backoffMs(attempts: number, maxMs = MAX_BACKOFF_MS): number {
  return Math.min(maxMs, FIRST_BACKOFF_MS * 2 ** Math.max(0, attempts - 1));
}

/** The feed state after a successful poll. */
export function afterSnapshot(state: FeedState, snapshot: Snapshot): FeedState {
  return {
    connection: state.connection.state === "connected"
      ? state.connection
      : { state: "connected", sinceMs: snapshot.atMs },
    snapshot,
    history: recordSamples(state.history, snapshot.atMs, samplesOf(snapshot)),
  };
}

/** The feed state after a poll that reached no endpoint at `atMs`. */
export function afterFailure(state: FeedState, error: string, atMs: number): FeedState {
  const before = state.connection;
  const attempts = before.state === "disconnected" ? before.attempts + 1 : 1;
  return {
    ...state,
    connection: {
      state: "disconnected",
      sinceMs: before.state === "disconnected" ? before.sinceMs : atMs,
      error,
      attempts,
      retryAtMs: atMs + backoffMs(attempts),
    },
  };
}

/** Options of {@linkcode Poller}. */
export interface PollerOptions {
  /** Time between polls while connected, in ms. */
  intervalMs: number;
  /** Called with every new state. */
  onUpdate: (state: FeedState) => void;
}

/** Polls `get` every interval until stopped; never throws, a failure becomes the state. */
export class Poller {
  #state: FeedState = {
    connection: { state: "connecting" },
    snapshot: undefined,
    history: emptyHistory(),
  };
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  readonly #get: GetPath;
  readonly #options: PollerOptions;

  /** @param get how to reach the gateway, @param options interval and listener */
  constructor(get: GetPath, options: PollerOptions) {
    this.#get = get;
    this.#options = options;
  }

  /** The latest state. */
  get state(): FeedState {
    return this.#state;
  }

  /** Polls now, then every interval (or after the backoff while disconnected). */
  start(): void {
    this.#stopped = false;
    void this.#poll();
  }

  /** Stops polling; a poll under way finishes without another being scheduled. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  async #poll(): Promise<void> {
    const atMs = Date.now();
    try {
      this.#state = afterSnapshot(this.#state, await fetchSnapshot(this.#get, atMs));
    } catch (error) {
      const message = error instanceof Disconnected || error instanceof Error
        ? error.message
        : String(error);
      this.#state = afterFailure(this.#state, message, Date.now());
    }
    if (this.#stopped) return;
    this.#options.onUpdate(this.#state);
    const connection = this.#state.connection;
    const waitMs = connection.state === "disconnected"
      ? Math.max(0, connection.retryAtMs - Date.now())
      : Math.max(0, atMs + this.#options.intervalMs - Date.now());
    this.#timer = setTimeout(() => void this.#poll(), waitMs);
  }
}

/** Attained service per session: the GPU time each session (or client) got lately, decaying, in a bounded map. */

/** Options of {@linkcode AttainedService}. */
export interface AttainedServiceOptions {
  /** Time over which a session's attained service halves, in ms. @default 60_000 */
  halfLifeMs?: number;
  /** Sessions remembered; the least recently served beyond it are forgotten. @default 10_000 */
  capacity?: number;
  /** Clock in ms. @default performance.now */
  now?: () => number;
}

interface Entry {
  value: number;
  atMs: number;
}

/**
 * The service each key (a session id, else a client id) attained, decayed exponentially so that
 * a session that was served long ago counts as a new one (Autellix's least-attained-service
 * within a program, with forgetting). Reads and charges are O(1); the map keeps at most
 * `capacity` keys, dropping the least recently charged.
 */
export class AttainedService {
  readonly #halfLifeMs: number;
  readonly #capacity: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();

  /** @param options half-life, capacity and clock */
  constructor(options: AttainedServiceOptions = {}) {
    this.#halfLifeMs = options.halfLifeMs ?? 60_000;
    this.#capacity = options.capacity ?? 10_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Keys remembered. */
  get size(): number {
    return this.#entries.size;
  }

  /** The decayed service `key` attained, in the unit it was charged in (0 for an unknown key). */
  of(key: string): number {
    const entry = this.#entries.get(key);
    return entry === undefined ? 0 : this.#decayed(entry, this.#now());
  }

  /** Adds `amount` of service (e.g. upstream ms) to `key`. */
  charge(key: string, amount: number): void {
    if (!(amount > 0)) return;
    const now = this.#now();
    const entry = this.#entries.get(key);
    const value = (entry === undefined ? 0 : this.#decayed(entry, now)) + amount;
    // Deleting first moves the key to the end: the map's order is least recently charged first.
    if (entry !== undefined) this.#entries.delete(key);
    this.#entries.set(key, { value, atMs: now });
    if (this.#entries.size > this.#capacity) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
  }

  #decayed(entry: Entry, now: number): number {
    const age = now - entry.atMs;
    return age <= 0 ? entry.value : entry.value * Math.pow(2, -age / this.#halfLifeMs);
  }
}

/**
 * Every API key record held in memory, so checking a key on the hot path reads no KV; reloaded
 * when the keys' version in KV moves, which bounds how long another process's revocation takes.
 */
import { Repeating } from "../../actors/runtime/repeating.ts";
import type { ApiKeyRecord, KeyStore } from "./api_keys.ts";

/** Options of {@linkcode KeyCache}. */
export interface KeyCacheOptions {
  /** Ms between checks of the keys' version in KV. @default 2000 */
  refreshMs?: number;
  /** Ids remembered as absent until the next reload, at most. @default 10000 */
  maxMissing?: number;
}

/** The key records of a {@linkcode KeyStore}, in memory. */
export class KeyCache {
  readonly #store: KeyStore;
  readonly #refreshMs: number;
  readonly #maxMissing: number;
  #records = new Map<string, ApiKeyRecord>();
  #missing = new Set<string>();
  readonly #lookups = new Map<string, Promise<ApiKeyRecord | undefined>>();
  #version: string | null | undefined;
  readonly #repeat: Repeating;
  #refreshing: Promise<void> | undefined;

  /** @param store the keys in KV; @param options refresh period and the absent-id bound */
  constructor(store: KeyStore, options: KeyCacheOptions = {}) {
    this.#store = store;
    this.#refreshMs = options.refreshMs ?? 2000;
    this.#maxMissing = options.maxMissing ?? 10_000;
    // The refresh alone never keeps a process alive.
    this.#repeat = new Repeating(() => this.refresh(), {
      intervalMs: this.#refreshMs,
      what: "refresh the API keys from KV",
      keepsAlive: false,
    });
  }

  /** Loads every record, then checks the version every `refreshMs`. */
  async start(): Promise<void> {
    await this.refresh();
    this.#repeat.start();
  }

  /** Reloads every record when the keys' version in KV moved since the last load. */
  refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      try {
        const version = await this.#store.version();
        if (version === this.#version) return;
        const records = await this.#store.list();
        this.#records = new Map(records.map((r) => [r.id, r]));
        this.#missing = new Set();
        this.#version = version;
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  /** Key `id`'s record: known, `null` when known to be absent, undefined when not looked up yet. */
  cached(id: string): ApiKeyRecord | null | undefined {
    const record = this.#records.get(id);
    if (record) return record;
    return this.#missing.has(id) ? null : undefined;
  }

  /**
   * Key `id`'s record read from KV: for a key made since the last reload (by `deno task keys` or
   * another process). One read per id at a time; an absent id is remembered until the next reload.
   */
  lookup(id: string): Promise<ApiKeyRecord | undefined> {
    let pending = this.#lookups.get(id);
    if (!pending) {
      pending = this.#store.get(id).then((record) => {
        if (record) this.#records.set(id, record);
        else {
          if (this.#missing.size >= this.#maxMissing) this.#missing.clear();
          this.#missing.add(id);
        }
        return record;
      }).finally(() => this.#lookups.delete(id));
      this.#lookups.set(id, pending);
    }
    return pending;
  }

  /** Takes `record` at once (this process created or revoked it). */
  put(record: ApiKeyRecord): void {
    this.#records.set(record.id, record);
    this.#missing.delete(record.id);
  }

  /** Keys that are not revoked. */
  activeCount(): number {
    let n = 0;
    for (const record of this.#records.values()) if (record.revoked_at === null) n++;
    return n;
  }

  /** Stops the refreshes, after the one in progress. */
  async close(): Promise<void> {
    this.#repeat.stop();
    await this.#refreshing?.catch(() => {});
    await Promise.allSettled(this.#lookups.values());
  }
}

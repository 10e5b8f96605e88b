/**
 * The per-request records every gateway process on one KV store shares: finished records are
 * written in batches off the hot path, kept for a TTL and a count, and read back across processes.
 */
import { errorField, logger } from "../actors/runtime/log.ts";
import { z } from "zod";
import type { RecordsConfig } from "../config/mod.ts";
import { retryKvBusy } from "../actors/runtime/mod.ts";
import { matchesRecord, type RecordFilter } from "./record_filter.ts";
import type { RecordStore, RequestRecord } from "./records.ts";
import { RequestRecordSchema } from "./record_schema.ts";

/** A record with the gateway process (its actor system's node id) that served it. */
export interface LoggedRecord extends RequestRecord {
  node: string;
}

const PREFIX = ["request_log"] as const;
/** The sequence number of the newest record logged: every batch moves it, under a check. */
const HEAD = [...PREFIX, "head"] as const;
const RECORDS = [...PREFIX, "record"] as const;
/** An atomic operation holds at most 1000 mutations and 800 KiB; a batch stays well inside. */
const MAX_BATCH = 500;
const MAX_BATCH_BYTES = 600 * 1024;
/** A KV value holds at most 64 KiB: a record larger (huge header values) is dropped, not its batch. */
const MAX_RECORD_BYTES = 60 * 1024;
const COMMIT_ATTEMPTS = 20;

const EntrySchema = z.object({
  node: z.string(),
  expires_at_ms: z.number(),
  record: RequestRecordSchema,
});

/** A record waiting for its batch. */
interface Pending {
  node: string;
  record: RequestRecord;
}

/** An upper bound of the bytes `entry` takes as a KV value (two bytes for any character). */
function sizeOf(entry: Pending): number {
  return JSON.stringify(entry).length * 2 + 64;
}

/** Options of {@linkcode RecordLog}. */
export interface RecordLogOptions {
  /** This gateway process, stamped on its records. */
  nodeId: string;
  /** Retention, TTL and batching (`proxy.records`). */
  config: RecordsConfig;
  /** Clock in ms since the epoch. @default Date.now */
  now?: () => number;
}

/** One page of the shared log, newest first, and where the next (older) page starts. */
export interface LogPage {
  records: LoggedRecord[];
  /** Pass as `before` for the next page; undefined when no older record matches. */
  next: bigint | undefined;
}

/** Options of {@linkcode RecordLog.page}. */
export interface LogPageOptions {
  /** Only records logged before the one with this sequence number (a previous page's `next`). */
  before?: bigint;
  /** Records in the page at most. */
  limit: number;
  /** Which records to return. */
  filter?: RecordFilter;
}

/** Every record kept in the shared log, newest first, with the count ever logged. */
export interface LogSnapshot {
  records: LoggedRecord[];
  /** Records ever logged on this KV store, by every process. */
  total: number;
}

/**
 * The shared request log on one KV store. Records wait in memory and are written by a timer
 * (every `flush_interval`, or at once when `flush_records` wait), one `kv.atomic()` per batch that
 * takes the next sequence numbers under a check of the head: keys are ordered by when they were
 * logged, across processes. After a batch, records beyond `retention` are pruned; each is also
 * set to expire after `ttl`, and one past it is never read back.
 */
export class RecordLog {
  readonly #kv: Deno.Kv;
  readonly #node: string;
  readonly #retention: bigint;
  readonly #ttlMs: number;
  readonly #flushMs: number;
  readonly #batch: number;
  readonly #now: () => number;
  /** What waits when KV falls behind; past it the oldest waiting records are dropped. */
  readonly #maxPending: number;
  #pending: Pending[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushing: Promise<void> | undefined;
  #dropped = 0;
  #lastError = 0;

  /** @param kv the store every gateway process opens, @param options node id, `proxy.records` */
  constructor(kv: Deno.Kv, options: RecordLogOptions) {
    this.#kv = kv;
    this.#node = options.nodeId;
    this.#retention = BigInt(options.config.retention);
    this.#ttlMs = options.config.ttl * 1000;
    this.#flushMs = options.config.flush_interval * 1000;
    this.#batch = Math.min(MAX_BATCH, options.config.flush_records);
    this.#now = options.now ?? Date.now;
    this.#maxPending = Math.max(options.config.retention, this.#batch);
  }

  /** Records dropped unwritten: KV failed, fell behind by more than the retention, or a record was too large. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Logs every record `store` gets from now on; returns the unsubscribe function. */
  follow(store: RecordStore): () => void {
    return store.subscribe((record) => this.add(record));
  }

  /** Queues `record` for the next batch; never waits on KV. */
  add(record: RequestRecord): void {
    this.#pending.push({ node: this.#node, record });
    if (this.#pending.length > this.#maxPending) {
      this.#pending.shift();
      this.#dropped++;
    }
    if (this.#pending.length >= this.#batch) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), this.#flushMs);
  }

  /** Writes every waiting record (and prunes); resolves once they are in KV or dropped. */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#flushing ??= this.#drain().finally(() => {
      this.#flushing = undefined;
      if (this.#pending.length > 0) this.#timer ??= setTimeout(() => void this.flush(), 0);
    });
    return this.#flushing;
  }

  /** Stops the timer and writes what waits. */
  async close(): Promise<void> {
    while (this.#pending.length > 0 || this.#flushing) await this.flush();
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** A page of the records kept, newest first, from every process on the store. */
  async page(options: LogPageOptions): Promise<LogPage> {
    const selector: Deno.KvListSelector = options.before === undefined
      ? { prefix: RECORDS }
      : { prefix: RECORDS, end: [...RECORDS, options.before] };
    const records: LoggedRecord[] = [];
    const batchSize = Math.min(MAX_BATCH, Math.max(10, options.limit + 1));
    let oldest: bigint | undefined;
    for await (const entry of this.#kv.list(selector, { reverse: true, batchSize })) {
      const logged = this.#parse(entry.value);
      if (!logged || (options.filter && !matchesRecord(logged, options.filter))) continue;
      const seq = entry.key[RECORDS.length] as bigint;
      if (records.length === options.limit) return { records, next: oldest };
      records.push(logged);
      oldest = seq;
    }
    return { records, next: undefined };
  }

  /** Every record kept, newest first, with the count ever logged, for cluster-wide figures. */
  async snapshot(): Promise<LogSnapshot> {
    const [head, entries] = await Promise.all([
      this.#kv.get<Deno.KvU64>(HEAD),
      Array.fromAsync(this.#kv.list({ prefix: RECORDS }, { reverse: true, batchSize: MAX_BATCH })),
    ]);
    const records: LoggedRecord[] = [];
    for (const entry of entries) {
      const logged = this.#parse(entry.value);
      if (logged) records.push(logged);
    }
    return { records, total: Number(head.value?.value ?? 0n) };
  }

  #parse(value: unknown): LoggedRecord | undefined {
    const parsed = EntrySchema.safeParse(value);
    // KV deletes an expired key only some time after it expires: one past its TTL is gone.
    if (!parsed.success || parsed.data.expires_at_ms <= this.#now()) return undefined;
    return { ...parsed.data.record, node: parsed.data.node };
  }

  /** Writes batches until nothing waits, pruning after each: under steady load it never stops. */
  async #drain(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#takeBatch();
      if (batch.length === 0) continue;
      let last: bigint;
      try {
        last = await this.#write(batch);
      } catch (error) {
        this.#dropped += batch.length;
        this.#report("Cannot write request records to KV; they are dropped", error);
        continue;
      }
      try {
        await this.#prune(last);
      } catch (error) {
        this.#report("Cannot prune old request records from KV; the next batch retries", error);
      }
    }
  }

  /** The next waiting records that fit one atomic operation. */
  #takeBatch(): Pending[] {
    const batch: Pending[] = [];
    let bytes = 0;
    while (batch.length < this.#batch) {
      const next = this.#pending[0];
      if (next === undefined) break;
      const size = sizeOf(next);
      if (size > MAX_RECORD_BYTES) {
        this.#pending.shift();
        this.#dropped++;
        this.#report(
          `A request record of about ${Math.round(size / 1024)} KiB is larger than a KV value ` +
            "holds, so it is dropped",
        );
        continue;
      }
      if (batch.length > 0 && bytes + size > MAX_BATCH_BYTES) break;
      batch.push(this.#pending.shift() as Pending);
      bytes += size;
    }
    return batch;
  }

  /** Writes `batch` under the next sequence numbers; resolves to the last one. */
  async #write(batch: Pending[]): Promise<bigint> {
    for (let attempt = 1;; attempt++) {
      const head = await retryKvBusy(() => this.#kv.get<Deno.KvU64>(HEAD));
      const first = (head.value?.value ?? 0n) + 1n;
      const last = first + BigInt(batch.length) - 1n;
      const expiresAtMs = this.#now() + this.#ttlMs;
      const op = this.#kv.atomic().check(head).set(HEAD, new Deno.KvU64(last));
      batch.forEach((entry, i) => {
        op.set([...RECORDS, first + BigInt(i)], { ...entry, expires_at_ms: expiresAtMs }, {
          expireIn: this.#ttlMs,
        });
      });
      if ((await retryKvBusy(() => op.commit())).ok) return last;
      if (attempt >= COMMIT_ATTEMPTS) {
        throw new Error(`the log's head kept changing under ${COMMIT_ATTEMPTS} attempts`);
      }
      // Another process took the same numbers: retry after a short, random pause.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
    }
  }

  /** Deletes every record up to `last - retention`, oldest first. */
  async #prune(last: bigint): Promise<void> {
    const cutoff = last - this.#retention;
    if (cutoff <= 0n) return;
    for (;;) {
      const old = await Array.fromAsync(
        this.#kv.list({ start: [...RECORDS, 0n], end: [...RECORDS, cutoff + 1n] }, {
          limit: MAX_BATCH,
          batchSize: MAX_BATCH,
        }),
      );
      if (old.length === 0) return;
      const op = this.#kv.atomic();
      for (const entry of old) op.delete(entry.key);
      await retryKvBusy(() => op.commit());
      if (old.length < MAX_BATCH) return;
    }
  }

  #report(what: string, error?: unknown): void {
    // At most one line every 10 s: a broken KV would otherwise print one per batch.
    const t = this.#now();
    if (t - this.#lastError < 10_000) return;
    this.#lastError = t;
    logger.error(what, error === undefined ? undefined : { error: errorField(error) });
  }
}

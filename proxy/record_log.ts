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
/**
 * Runs of records, each under the sequence number of its first record. A value holds many
 * records: one KV key a record cost several times more to write, and as much again to prune.
 */
const RECORDS = [...PREFIX, "record"] as const;
/** The last sequence number of each run, under its first: what pruning reads instead of the runs. */
const RUN_ENDS = [...PREFIX, "run_end"] as const;
/** An atomic operation holds at most 1000 mutations and 800 KiB; a batch stays well inside. */
const MAX_BATCH = 500;
const MAX_BATCH_BYTES = 600 * 1024;
/** A KV value holds at most 64 KiB: a run is cut before it passes this bound of its size. */
const MAX_RUN_BYTES = 60 * 1024;
/** A record larger than this (huge header values) is dropped, not its batch. */
const MAX_RECORD_BYTES = MAX_RUN_BYTES - 1024;
/** Runs deleted per atomic operation (two mutations each, of 1000 allowed). */
const PRUNE_RUNS = 400;
/**
 * A prune waits until this share of the retention is prunable (a quarter: past 10,000 kept, one
 * prune per 2,500 records logged), so its run-end read and delete commit are not paid per batch.
 * Reads never return a record past the retention whether or not it is deleted yet.
 */
const PRUNE_SHARE = 4n;
const COMMIT_ATTEMPTS = 20;

/** A run of records one process logged, as stored. */
const RunSchema = z.object({
  node: z.string(),
  expires_at_ms: z.number(),
  records: z.array(RequestRecordSchema),
});

/** One record, as versions before runs stored each (read until they expire). */
const EntrySchema = z.object({
  node: z.string(),
  expires_at_ms: z.number(),
  record: RequestRecordSchema,
});

/** A stored value's records, oldest first, with their process and expiry; undefined when unreadable. */
function recordsOf(value: unknown): z.infer<typeof RunSchema> | undefined {
  const run = RunSchema.safeParse(value);
  if (run.success) return run.data;
  const entry = EntrySchema.safeParse(value);
  if (!entry.success) return undefined;
  const { node, expires_at_ms, record } = entry.data;
  return { node, expires_at_ms, records: [record] };
}

/** Whether a stored value is a run (what this version writes), without parsing its records. */
function isRun(value: unknown): boolean {
  return typeof value === "object" && value !== null && Array.isArray(
    (value as { records?: unknown }).records,
  );
}

/**
 * An upper bound of the bytes `record` adds to a KV value, without serializing it. V8's
 * serializer writes each property as its name (a tag, a varint length and one byte a character:
 * a record's names are ASCII literals, which V8 keeps as one-byte strings) and its value: a
 * number as a tag and at most 8 bytes, a string as a tag, a varint length, an alignment byte and
 * at most two bytes a character, `undefined` and booleans as one tag.
 */
export function recordSizeBound(record: RequestRecord): number {
  let bytes = 16;
  for (const name in record) {
    const value = (record as unknown as Record<string, unknown>)[name];
    bytes += 6 + name.length;
    if (typeof value === "string") bytes += 7 + 2 * value.length;
    else if (typeof value === "number") bytes += 10;
    else if (typeof value === "bigint") bytes += 16;
    else if (typeof value === "boolean" || value === undefined || value === null) bytes += 2;
    else bytes += 16 + 2 * (JSON.stringify(value)?.length ?? 0);
  }
  return bytes;
}

/** The log's head: the last sequence number taken, and the versionstamp it was written with. */
interface LogHead {
  value: bigint;
  versionstamp: string | null;
}

/** A record waiting for its batch, with the bound of its size. */
interface Pending {
  record: RequestRecord;
  bytes: number;
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
 * logged, across processes. A batch is stored as a few runs of records, one KV value each. Records
 * beyond `retention` are never read back, and a run is deleted once all of its records are (a
 * prune runs once a quarter of the retention is past it, reading the small run-end keys, not the
 * runs); each run is also set to expire after `ttl`, and a record past it is never read back.
 */
export class RecordLog {
  readonly #kv: Deno.Kv;
  readonly #node: string;
  readonly #retention: bigint;
  /** Records past the retention a prune waits for (see {@linkcode PRUNE_SHARE}). */
  readonly #pruneStep: bigint;
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
  /**
   * The lowest cutoff (last sequence number minus the retention) at which a prune can delete a
   * run: the end of the oldest run the last prune left. 0 until this process pruned once.
   */
  #prunableAt = 0n;
  /** The head as this process's last batch left it, or undefined when it must be read. */
  #head: LogHead | undefined;
  /** Whether this process has swept the values of earlier versions (one record a key) once. */
  #sweptLegacy = false;

  /** @param kv the store every gateway process opens, @param options node id, `proxy.records` */
  constructor(kv: Deno.Kv, options: RecordLogOptions) {
    this.#kv = kv;
    this.#node = options.nodeId;
    this.#retention = BigInt(options.config.retention);
    this.#pruneStep = this.#retention / PRUNE_SHARE;
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
    this.#pending.push({ record, bytes: recordSizeBound(record) });
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
    const before = options.before;
    const selector: Deno.KvListSelector = before === undefined
      ? { prefix: RECORDS }
      : { prefix: RECORDS, end: [...RECORDS, before] };
    const records: LoggedRecord[] = [];
    const kept = this.#keptAfter((await this.#kv.get<Deno.KvU64>(HEAD)).value);
    const entries = this.#kv.list(selector, { reverse: true, batchSize: 16 });
    let oldest: bigint | undefined;
    for await (const { seq, record } of this.#newestFirst(entries, kept)) {
      if (before !== undefined && seq >= before) continue;
      if (options.filter && !matchesRecord(record, options.filter)) continue;
      if (records.length === options.limit) return { records, next: oldest };
      records.push(record);
      oldest = seq;
    }
    return { records, next: undefined };
  }

  /** Every record kept, newest first, with the count ever logged, for cluster-wide figures. */
  async snapshot(): Promise<LogSnapshot> {
    const [head, entries] = await Promise.all([
      this.#kv.get<Deno.KvU64>(HEAD),
      Array.fromAsync(this.#kv.list({ prefix: RECORDS }, { reverse: true, batchSize: 64 })),
    ]);
    const records: LoggedRecord[] = [];
    for await (const { record } of this.#newestFirst(entries, this.#keptAfter(head.value))) {
      records.push(record);
    }
    return { records, total: Number(head.value?.value ?? 0n) };
  }

  /**
   * The live records of `entries` (runs, newest first) with their sequence numbers, newest
   * first, down to the first at or below `kept` (past the retention: it and all older end it).
   */
  async *#newestFirst(
    entries: AsyncIterable<Deno.KvEntry<unknown>> | Iterable<Deno.KvEntry<unknown>>,
    kept: bigint,
  ): AsyncGenerator<{ seq: bigint; record: LoggedRecord }> {
    for await (const entry of entries) {
      const first = entry.key[RECORDS.length] as bigint;
      const run = this.#live(entry.value);
      if (!run) continue;
      for (let i = run.records.length - 1; i >= 0; i--) {
        const seq = first + BigInt(i);
        if (seq <= kept) return;
        yield { seq, record: { ...run.records[i]!, node: run.node } };
      }
    }
  }

  /** The highest sequence number past the retention under head `head`: it and older are not read. */
  #keptAfter(head: Deno.KvU64 | null): bigint {
    return (head?.value ?? 0n) - this.#retention;
  }

  /** A stored value's run, unless it is unreadable or past its TTL. */
  #live(value: unknown): z.infer<typeof RunSchema> | undefined {
    const run = recordsOf(value);
    // KV deletes an expired key only some time after it expires: one past its TTL is gone.
    if (!run || run.expires_at_ms <= this.#now()) return undefined;
    return run;
  }

  /** Writes batches until nothing waits, pruning when a run is past the retention: under steady load it never stops. */
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
      const size = next.bytes;
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

  /**
   * Writes `batch` under the next sequence numbers, in runs; resolves to the last one. The head
   * this process wrote last is checked by its versionstamp without reading it again; when
   * another process moved it since, the commit fails and the head is read.
   */
  async #write(batch: Pending[]): Promise<bigint> {
    const runs = runsOf(batch);
    for (let attempt = 1;; attempt++) {
      const cached = this.#head;
      // Unknown until this commit succeeds (a throw leaves it so).
      this.#head = undefined;
      const head = cached ?? await this.#readHead();
      const first = head.value + 1n;
      const last = first + BigInt(batch.length) - 1n;
      const expiresAtMs = this.#now() + this.#ttlMs;
      const expiry = { expireIn: this.#ttlMs };
      const op = this.#kv.atomic()
        .check({ key: HEAD, versionstamp: head.versionstamp })
        .set(HEAD, new Deno.KvU64(last));
      let start = first;
      for (const records of runs) {
        const end = start + BigInt(records.length) - 1n;
        op.set(
          [...RECORDS, start],
          { node: this.#node, expires_at_ms: expiresAtMs, records },
          expiry,
        );
        op.set([...RUN_ENDS, start], end, expiry);
        start = end + 1n;
      }
      const result = await retryKvBusy(() => op.commit());
      if (result.ok) {
        this.#head = { value: last, versionstamp: result.versionstamp };
        return last;
      }
      if (attempt >= COMMIT_ATTEMPTS) {
        throw new Error(`the log's head kept changing under ${COMMIT_ATTEMPTS} attempts`);
      }
      // Another process took the same numbers: retry after a short, random pause (at once
      // when only the head this process remembered was stale).
      if (cached === undefined) {
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
      }
    }
  }

  /** The log's head as KV has it now. */
  async #readHead(): Promise<LogHead> {
    const entry = await retryKvBusy(() => this.#kv.get<Deno.KvU64>(HEAD));
    return { value: entry.value?.value ?? 0n, versionstamp: entry.versionstamp };
  }

  /**
   * Deletes every run whose records are all at or below `last - retention`, oldest first, once
   * a quarter of the retention more is past the oldest run left: it reads the run ends, not the
   * runs. The first prune of a process also deletes the one-record values earlier versions left
   * below the cutoff.
   */
  async #prune(last: bigint): Promise<void> {
    const cutoff = last - this.#retention;
    if (cutoff <= 0n || cutoff < this.#prunableAt + this.#pruneStep) return;
    if (!this.#sweptLegacy) {
      await this.#sweepLegacy(cutoff);
      this.#sweptLegacy = true;
    }
    for (;;) {
      const ends = await Array.fromAsync(
        this.#kv.list<bigint>({ start: [...RUN_ENDS, 0n], end: [...RUN_ENDS, cutoff + 1n] }, {
          limit: PRUNE_RUNS,
          batchSize: PRUNE_RUNS,
        }),
      );
      const op = this.#kv.atomic();
      let deleted = 0;
      // Past the cutoff until a run proves otherwise: the next run starts after it.
      this.#prunableAt = cutoff + 1n;
      for (const entry of ends) {
        const start = entry.key[RUN_ENDS.length] as bigint;
        const end = typeof entry.value === "bigint" ? entry.value : start;
        if (end > cutoff) {
          this.#prunableAt = end;
          break;
        }
        op.delete([...RECORDS, start]).delete(entry.key);
        deleted++;
      }
      if (deleted > 0) await retryKvBusy(() => op.commit());
      if (deleted < PRUNE_RUNS) return;
    }
  }

  /** Deletes the values at or below `cutoff` that have no run end: one record each, as earlier versions wrote. */
  async #sweepLegacy(cutoff: bigint): Promise<void> {
    for (;;) {
      const op = this.#kv.atomic();
      let deleted = 0;
      let seen = 0;
      const selector = { start: [...RECORDS, 0n], end: [...RECORDS, cutoff + 1n] };
      for await (const entry of this.#kv.list(selector, { limit: MAX_BATCH, batchSize: 64 })) {
        seen++;
        if (isRun(entry.value)) continue;
        op.delete(entry.key);
        deleted++;
      }
      if (deleted > 0) await retryKvBusy(() => op.commit());
      if (seen < MAX_BATCH || deleted === 0) return;
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

/** `batch`'s records cut into runs that each fit one KV value. */
function runsOf(batch: Pending[]): RequestRecord[][] {
  const runs: RequestRecord[][] = [];
  let run: RequestRecord[] = [];
  let bytes = 64;
  for (const { record, bytes: size } of batch) {
    if (run.length > 0 && bytes + size > MAX_RUN_BYTES) {
      runs.push(run);
      run = [];
      bytes = 64;
    }
    run.push(record);
    bytes += size;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

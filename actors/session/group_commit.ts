/**
 * Group commit: the turn commits of many sessions that arrive while one `kv.atomic()` is being
 * written go together into the next one, so that concurrent sessions share one fsync instead of
 * queueing for KV's single writer one commit at a time. Each session keeps its own versionstamp
 * check; when any check of a group fails, the group is committed again one by one, so only the
 * session that lost its race is told so.
 */
import { retryKvBusy } from "../runtime/mod.ts";
import { encodeRecord, setBytes } from "./chunked.ts";

/** One session's writes in a group: its head under a check, and its records. */
export interface GroupWrite {
  /** The head's key and the versionstamp it must still have (null: it must not exist). */
  key: Deno.KvKey;
  expected: string | null;
  head: unknown;
  /** Chunked records to add, by key prefix. */
  records: { key: Deno.KvKey; value: unknown }[];
  /** More writes of this session's, in the same atomic operation. */
  also?: (op: Deno.AtomicOperation) => void;
}

interface Pending {
  write: GroupWrite;
  /** The head key, as a string. */
  key: string;
  encoded: { key: Deno.KvKey; bytes: Uint8Array }[];
  bytes: number;
  resolve(versionstamp: string | undefined): void;
  reject(error: unknown): void;
}

/** Checks in one group; KV allows 100 per atomic operation. */
const MAX_GROUP = 32;
/** Bytes in one group; KV allows 800 KiB of mutations per atomic operation. */
const MAX_GROUP_BYTES = 480 * 1024;
/**
 * Groups written at once. KV's SQLite writes one transaction after another, each with its own
 * fsync, so a second group in flight only queues there: a write that arrives meanwhile waits
 * for both. With one, it waits for the group being written and then shares the next one's fsync
 * with everything that came meanwhile (64 sessions at 200 ms think time, commits alone on a loaded
 * disk: p50 2.5-3.3 ms against 5.4-6.5 ms with four in flight).
 */
const MAX_IN_FLIGHT = 1;

/**
 * Commits {@linkcode GroupWrite}s: each at once while none is being written, and grouped with
 * the others that wait while {@linkcode MAX_IN_FLIGHT} groups are.
 */
export class GroupCommitter {
  readonly #kv: Deno.Kv;
  #queue: Pending[] = [];
  #inFlight = 0;
  /** Head keys of the writes being committed: a later write of one waits for the earlier. */
  readonly #busyKeys = new Set<string>();

  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  /** Commits `write`: its versionstamp, or undefined when its check failed. */
  commit(write: GroupWrite): Promise<string | undefined> {
    // Encoded now, so that a record too large is refused to its own caller only.
    let encoded: Pending["encoded"];
    try {
      encoded = write.records.map((r) => ({ key: r.key, bytes: encodeRecord(r.value) }));
    } catch (error) {
      return Promise.reject(error);
    }
    const bytes = encoded.reduce((n, r) => n + r.bytes.length, 0) +
      JSON.stringify(write.head).length;
    const { promise, resolve, reject } = Promise.withResolvers<string | undefined>();
    const key = JSON.stringify(write.key);
    this.#queue.push({ write, key, encoded, bytes, resolve, reject });
    this.#pump();
    return promise;
  }

  /** Starts groups while fewer than {@linkcode MAX_IN_FLIGHT} are being written. */
  #pump(): void {
    while (this.#inFlight < MAX_IN_FLIGHT && this.#queue.length > 0) {
      const group = this.#takeGroup();
      if (group.length === 0) return;
      this.#inFlight++;
      void this.#commitGroup(group).finally(() => {
        this.#inFlight--;
        for (const item of group) this.#busyKeys.delete(item.key);
        this.#pump();
      });
    }
  }

  /** The next group: in arrival order, one write per key not being written, within bounds. */
  #takeGroup(): Pending[] {
    const group: Pending[] = [];
    let bytes = 0;
    const rest: Pending[] = [];
    for (const item of this.#queue) {
      const fits = group.length < MAX_GROUP &&
        (group.length === 0 || bytes + item.bytes <= MAX_GROUP_BYTES);
      if (fits && !this.#busyKeys.has(item.key)) {
        group.push(item);
        this.#busyKeys.add(item.key);
        bytes += item.bytes;
      } else rest.push(item);
    }
    this.#queue = rest;
    return group;
  }

  async #commitGroup(group: Pending[]): Promise<void> {
    if (group.length > 1) {
      try {
        const res = await retryKvBusy(() => this.#atomic(group).commit());
        if (res.ok) {
          for (const item of group) item.resolve(res.versionstamp);
          return;
        }
      } catch {
        // One write the group cannot carry: each is tried alone below, and fails alone.
      }
    }
    for (const item of group) {
      try {
        const res = await retryKvBusy(() => this.#atomic([item]).commit());
        item.resolve(res.ok ? res.versionstamp : undefined);
      } catch (error) {
        item.reject(error);
      }
    }
  }

  #atomic(group: Pending[]): Deno.AtomicOperation {
    const op = this.#kv.atomic();
    for (const { write, encoded } of group) {
      op.check({ key: write.key, versionstamp: write.expected });
      op.set(write.key, write.head);
      for (const record of encoded) setBytes(op, record.key, record.bytes);
      write.also?.(op);
    }
    return op;
  }
}

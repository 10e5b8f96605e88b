/**
 * The session store in Deno KV: heads, turns and compactions. Every change to a session is one
 * `kv.atomic()` checked against the head's versionstamp, so two gateway processes on one KV file
 * never both write a session: the loser's commit fails and it reads again.
 */
import { errorField, logger } from "../runtime/log.ts";
import { retryKvBusy } from "../runtime/mod.ts";
import { GroupCommitter, type GroupWrite } from "./group_commit.ts";
import { listChunked, setChunked } from "./chunked.ts";
import {
  type CompactionRecord,
  CompactionRecordSchema,
  keys,
  type SessionHead,
  SessionHeadSchema,
  type TurnRecord,
  TurnRecordSchema,
} from "./records.ts";

/** A head with the versionstamp it was read at. */
export interface VersionedHead {
  head: SessionHead;
  versionstamp: string;
}

/** Filters of {@linkcode SessionStore.list}. */
export interface SessionFilter {
  task_id?: string | undefined;
  client_id?: string | undefined;
  model?: string | undefined;
  state?: string | undefined;
}

/** One page of a listing: items, and the cursor of the next page when there is one. */
export interface Page<T> {
  items: T[];
  next: string | undefined;
}

/** What one commit writes besides the head. */
export interface CommitWrites {
  /** A turn record to add. */
  turn?: TurnRecord;
  /** A compaction record to add. */
  compaction?: CompactionRecord;
  /**
   * Mutations on the active-session counters: +1 or -1 for the gateway and the client; with a
   * cap (`max` gateway-wide, `maxOfClient` for the client), a +1 that would pass it fails the commit.
   */
  active?: {
    delta: 1 | -1;
    clientId: string | null;
    max?: number | undefined;
    maxOfClient?: number | undefined;
  };
  /** More writes in the same atomic operation (e.g. a durable timer's enqueue). */
  also?: (op: Deno.AtomicOperation) => void;
}

/** Reads and writes sessions in one KV store. */
export class SessionStore {
  /** The KV store. */
  readonly kv: Deno.Kv;
  /**
   * What the reads go through: a second handle on the same file, when given. KV answers one
   * handle's operations one after another, so on the writing handle a read waits behind the
   * commits (each with its fsync) queued before it; SQLite's WAL lets a second connection read
   * the last committed state meanwhile. A plain call's first read of its session's home is on the
   * way to the replica: on the mixed trace at 120 requests/s it took 0.45 ms p50 and 3.3 ms p90
   * on the writing handle, 0.14 and 1.4 on a handle of its own.
   */
  readonly #reader: Deno.Kv;
  readonly #onBad: (key: Deno.KvKey, error: string) => void;
  readonly #group: GroupCommitter;

  /**
   * @param kv the store
   * @param onBad told of a record that does not parse (it is skipped, never a 500)
   * @param reader another handle on the same KV file for the reads (default: `kv`)
   */
  constructor(
    kv: Deno.Kv,
    onBad?: (key: Deno.KvKey, error: string) => void,
    reader: Deno.Kv = kv,
  ) {
    this.kv = kv;
    this.#reader = reader;
    this.#group = new GroupCommitter(kv);
    this.#onBad = onBad ??
      ((key, error) =>
        logger.error("session record unreadable", {
          key: JSON.stringify(key),
          error: errorField(error),
        }));
  }

  /** The head of session `id`, or undefined when there is none. */
  async get(id: string): Promise<VersionedHead | undefined> {
    const entry = await retryKvBusy(() => this.#reader.get(keys.head(id)));
    if (entry.versionstamp === null) return undefined;
    const parsed = SessionHeadSchema.safeParse(entry.value);
    if (!parsed.success) {
      this.#onBad(entry.key, parsed.error.message);
      return undefined;
    }
    return { head: parsed.data, versionstamp: entry.versionstamp };
  }

  /**
   * Writes `head` (and `writes`) if the head is still at `expected` (null: it must not exist).
   * Returns the new versionstamp, or undefined when another writer got there first.
   */
  async commit(
    head: SessionHead,
    expected: string | null,
    writes: CommitWrites = {},
  ): Promise<string | undefined> {
    const active = writes.active;
    // A create under no session cap adds to the counters with KV's sum, which needs no read and
    // conflicts with nothing, so it rides in a group like a turn's commit.
    const uncapped = active !== undefined && active.delta === 1 && active.max === undefined &&
      active.maxOfClient === undefined;
    if (active === undefined || uncapped) {
      // Grouped with the commits of other sessions that wait meanwhile.
      const records: GroupWrite["records"] = [];
      if (writes.turn) {
        records.push({ key: keys.turn(head.id, writes.turn.turn), value: writes.turn });
      }
      if (writes.compaction) {
        const key = keys.compaction(head.id, writes.compaction.compaction);
        records.push({ key, value: writes.compaction });
      }
      const also = active === undefined ? writes.also : (op: Deno.AtomicOperation) => {
        for (const key of activeKeys(active.clientId)) op.sum(key, 1n);
        writes.also?.(op);
      };
      return await this.#group.commit({
        key: keys.head(head.id),
        expected,
        head,
        records,
        ...(also ? { also } : {}),
      });
    }
    // SQLite refuses a write at once while another gateway process writes the file: try again.
    return await retryKvBusy(async () => {
      const op = this.kv.atomic().check({ key: keys.head(head.id), versionstamp: expected });
      op.set(keys.head(head.id), head);
      if (writes.turn) setChunked(op, keys.turn(head.id, writes.turn.turn), writes.turn);
      if (writes.compaction) {
        setChunked(op, keys.compaction(head.id, writes.compaction.compaction), writes.compaction);
      }
      const { delta, clientId, max, maxOfClient } = active;
      if (!(await addActive(this.kv, op, delta, clientId, [max, maxOfClient]))) return undefined;
      writes.also?.(op);
      const res = await op.commit();
      return res.ok ? res.versionstamp : undefined;
    });
  }

  /** The turns of `id` numbered from `from` (inclusive) to `to` (exclusive), oldest first. */
  async turns(
    id: string,
    from: number,
    to: number = Number.MAX_SAFE_INTEGER,
  ): Promise<TurnRecord[]> {
    // An empty range (a session's first turn) needs no read.
    if (from >= to) return [];
    return await listChunked(
      this.#reader,
      keys.turns(id),
      { start: from, end: to },
      TurnRecordSchema,
      this.#onBad,
    );
  }

  /** One turn, or undefined. */
  async turn(id: string, n: number): Promise<TurnRecord | undefined> {
    return (await this.turns(id, n, n + 1))[0];
  }

  /** A page of turns after `after` (a turn number), at most `limit`. */
  async turnPage(id: string, after: number, limit: number): Promise<Page<TurnRecord>> {
    const items = await listChunked(
      this.#reader,
      keys.turns(id),
      { start: after + 1, limit: limit + 1 },
      TurnRecordSchema,
      this.#onBad,
    );
    const more = items.length > limit;
    const page = more ? items.slice(0, limit) : items;
    return { items: page, next: more ? String(page[page.length - 1]!.turn) : undefined };
  }

  /** Compaction `k` of `id`, or undefined. */
  async compaction(id: string, k: number): Promise<CompactionRecord | undefined> {
    const found = await listChunked(
      this.kv,
      keys.compactions(id),
      { start: k, end: k + 1 },
      CompactionRecordSchema,
      this.#onBad,
    );
    return found[0];
  }

  /** Every compaction of `id`, oldest first. */
  compactions(id: string): Promise<CompactionRecord[]> {
    return listChunked(this.kv, keys.compactions(id), {}, CompactionRecordSchema, this.#onBad);
  }

  /** A page of heads matching `filter`, in id order, after the cursor `after` (an id). */
  async list(filter: SessionFilter, options: { after?: string; limit: number }): Promise<
    Page<SessionHead>
  > {
    const selector: Deno.KvListSelector = options.after === undefined
      ? { prefix: keys.heads }
      : { prefix: keys.heads, start: [...keys.heads, options.after, ""] };
    const items: SessionHead[] = [];
    for await (const entry of this.kv.list(selector)) {
      const parsed = SessionHeadSchema.safeParse(entry.value);
      if (!parsed.success) continue;
      const h = parsed.data;
      if (options.after !== undefined && h.id <= options.after) continue;
      if (filter.task_id !== undefined && h.task_id !== filter.task_id) continue;
      if (filter.client_id !== undefined && h.client_id !== filter.client_id) continue;
      if (filter.model !== undefined && h.model !== filter.model) continue;
      if (filter.state !== undefined && h.state !== filter.state) continue;
      items.push(h);
      if (items.length > options.limit) break;
    }
    const more = items.length > options.limit;
    const page = more ? items.slice(0, options.limit) : items;
    return { items: page, next: more ? page[page.length - 1]!.id : undefined };
  }

  /**
   * Every session's last replica, as its head names it: session id and replica, heads without one
   * left out. Read through the reading handle, a batch at a time; for a map of homes, which only
   * needs the one field (a head that does not parse is left to {@linkcode get} to report).
   */
  async *homes(): AsyncGenerator<readonly [string, string]> {
    for await (const entry of this.#reader.list({ prefix: keys.heads }, { batchSize: 500 })) {
      const value = entry.value as { backend?: unknown } | null;
      const id = entry.key.at(-1);
      const backend = typeof value === "object" && value !== null ? value.backend : undefined;
      if (typeof id === "string" && typeof backend === "string" && backend !== "") {
        yield [id, backend];
      }
    }
  }

  /** Removes every record of `id` if its head is still at `expected`; false when it changed. */
  async remove(head: SessionHead, expected: string, wasActive: boolean): Promise<boolean> {
    const removed = await retryKvBusy(async () => {
      const op = this.kv.atomic().check({ key: keys.head(head.id), versionstamp: expected });
      op.delete(keys.head(head.id));
      if (wasActive && !(await addActive(this.kv, op, -1, head.client_id))) return false;
      return (await op.commit()).ok;
    });
    if (!removed) return false;
    // The turns and compactions are unreachable once the head is gone; clear them in batches.
    for (const prefix of [keys.turns(head.id), keys.compactions(head.id)]) {
      let batch = this.kv.atomic();
      let n = 0;
      for await (const entry of this.kv.list({ prefix })) {
        batch.delete(entry.key);
        if (++n % 500 === 0) {
          await retryKvBusy(() => batch.commit());
          batch = this.kv.atomic();
        }
      }
      await retryKvBusy(() => batch.commit());
    }
    return true;
  }

  /** Active sessions, gateway-wide or of one client. */
  async activeCount(clientId?: string | null): Promise<number> {
    const key = clientId ? keys.activeOf(clientId) : keys.active;
    const entry = await this.#reader.get(key);
    return counterValue(entry.value);
  }
}

/** A counter's value: a `Deno.KvU64`, or nothing yet. */
function counterValue(value: unknown): number {
  return value instanceof Deno.KvU64 ? Number(value.value) : 0;
}

/** The active-session counters a session counts in: the gateway's, and its client's if it has one. */
function activeKeys(clientId: string | null): Deno.KvKey[] {
  return clientId ? [keys.active, keys.activeOf(clientId)] : [keys.active];
}

/** Minus one, as a wrapping 64-bit sum adds it. */
const MINUS_ONE = new Deno.KvU64((1n << 64n) - 1n);

/**
 * Adds a change of the active-session counters to `op`. An uncapped counter is changed with
 * KV's atomic `sum`, so concurrent creates never conflict on it; a capped one is read and
 * checked by versionstamp, so a concurrent change fails the whole commit, which is retried. False
 * when a +1 would pass its counter's cap (gateway-wide first, then the client's).
 */
async function addActive(
  kv: Deno.Kv,
  op: Deno.AtomicOperation,
  delta: 1 | -1,
  clientId: string | null,
  caps: (number | undefined)[] = [],
): Promise<boolean> {
  const counterKeys = activeKeys(clientId);
  // An uncapped +1 needs no read; a -1 reads, so that a counter never goes below zero.
  const read = counterKeys.map((_, i) => caps[i] !== undefined || delta < 0);
  const wanted = counterKeys.filter((_, i) => read[i]);
  const entries = wanted.length > 0 ? await kv.getMany<unknown[]>(wanted) : [];
  let next = 0;
  for (const [i, key] of counterKeys.entries()) {
    if (!read[i]) {
      op.sum(key, 1n);
      continue;
    }
    const entry = entries[next++]!;
    const value = counterValue(entry.value);
    const cap = caps[i];
    if (delta > 0 && cap !== undefined && value + delta > cap) return false;
    if (delta < 0 && value === 0) continue;
    // A -1 is a wrapping sum too, so concurrent uncapped creates summing +1 do not conflict with it.
    op.sum(key, delta > 0 ? 1n : MINUS_ONE.value);
    if (delta > 0) op.check(entry);
  }
  return true;
}

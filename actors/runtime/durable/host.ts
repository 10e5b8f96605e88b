/** Durable state for cells: dedupe, snapshot, lease and outbox committed in one KV atomic op. */
import { type Address, parseAddress } from "../address.ts";
import type { Cell } from "../cell.ts";
import type { CommitOutcome, DurableHost, OutboxItem } from "../cell_host.ts";
import type { DurableDelivery } from "../envelopes.ts";
import { LeaseLostError } from "../errors.ts";
import { makeEnvelope } from "./envelope.ts";
import { cancelKey, deadLetterKey, seenKey } from "./keys.ts";
import { acquireLease, releaseLease, renewLeaseIn } from "./lease.ts";
import { addSnapshot, readSnapshot } from "./snapshot.ts";
import type { DurableTransport } from "./transport.ts";

/**
 * Fault-injection points for crash tests: awaited right before and right after a durable turn's
 * commit, so a test can kill the process at exactly that point.
 */
export interface FaultHooks {
  /** Awaited right before a durable turn's atomic commit. */
  beforeCommit?(addr: Address, messageId: string): void | Promise<void>;
  /** Awaited right after it, before the message is acknowledged. */
  afterCommit?(addr: Address, messageId: string): void | Promise<void>;
  /** Called when a redelivered message is dropped as a duplicate. */
  onDuplicate?(addr: Address, messageId: string): void;
}

/** Settings of {@linkcode KvDurableHost}. */
export interface KvDurableHostOptions {
  /** This node's name in leases. */
  owner: string;
  /** How long a lease lasts without a commit, in ms. */
  leaseTtlMs: number;
  /** How long dedupe records are kept, in ms. */
  dedupeTtlMs: number;
  /** Delay before a forwarded message is offered again, in ms. */
  forwardDelayMs: number;
  /** Crash-test hooks around commits. */
  faults?: FaultHooks | undefined;
}

/** The KV-backed {@linkcode DurableHost}. */
export class KvDurableHost implements DurableHost {
  readonly #kv: Deno.Kv;
  readonly #transport: DurableTransport;
  readonly #options: KvDurableHostOptions;

  /** Creates it. @param kv the store, @param transport how messages travel, @param options leases and dedupe */
  constructor(kv: Deno.Kv, transport: DurableTransport, options: KvDurableHostOptions) {
    this.#kv = kv;
    this.#transport = transport;
    this.#options = options;
  }

  /** Takes the lease if needed, then reads and validates the snapshot. */
  async load(cell: Cell): Promise<{ state: unknown } | undefined> {
    if (cell.leaseToken === null) {
      const lease = await acquireLease(this.#kv, cell, this.#leaseOptions());
      if (!lease.ok) throw new LeaseLostError(cell.address);
      cell.leaseToken = lease.token;
    }
    const snap = await readSnapshot(this.#kv, cell);
    cell.snapshotLayout = snap?.layout;
    if (!snap) return undefined;
    const schema = cell.behavior.persistence?.state;
    if (!schema) return { state: snap.value };
    const parsed = schema.safeParse(snap.value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(
        `Snapshot of ${cell.address} does not match its schema (${
          issue?.path.join(".") || "(root)"
        }: ${issue?.message}): migrate it or delete key ["actor", "${cell.kind}", "${cell.id}"]`,
      );
    }
    return { state: parsed.data };
  }

  /** Which of these messages already changed this actor, or were cancelled timers. */
  async seen(cell: Cell, messageIds: string[]): Promise<Set<string>> {
    const done = new Set<string>();
    for (let i = 0; i < messageIds.length; i += 5) {
      const ids = messageIds.slice(i, i + 5);
      const keys = ids.flatMap((
        id,
      ) => [seenKey(cell.kind, cell.id, id), cancelKey(cell.kind, cell.id, id)]);
      const entries = await this.#kv.getMany(keys);
      ids.forEach((id, k) => {
        if (entries[2 * k]?.versionstamp) {
          done.add(id);
          this.#options.faults?.onDuplicate?.(cell.address, id);
        } else if (entries[2 * k + 1]?.versionstamp) done.add(id);
      });
    }
    return done;
  }

  /** Commits dedupe key, snapshot, lease renewal and outbox at once. */
  async commit(
    cell: Cell,
    messageIds: string[],
    state: unknown,
    outbox: OutboxItem[],
  ): Promise<CommitOutcome> {
    const op = this.#kv.atomic();
    for (const id of messageIds) {
      const seen = seenKey(cell.kind, cell.id, id);
      op.check({ key: seen, versionstamp: null })
        .set(seen, { atMs: Date.now() }, { expireIn: this.#options.dedupeTtlMs });
    }
    const persisted = cell.behavior.persistence !== undefined;
    let layout = cell.snapshotLayout;
    if (persisted) {
      if (cell.leaseToken === null) return await this.#recover(cell);
      renewLeaseIn(op, cell, { token: cell.leaseToken, ...this.#leaseOptions() });
      layout = addSnapshot(op, cell, state, cell.snapshotLayout);
    }
    for (const item of outbox) this.sendIn(op, item);
    const faults = this.#options.faults;
    for (const id of messageIds) await faults?.beforeCommit?.(cell.address, id);
    const res = await op.commit();
    if (res.ok) {
      if (persisted) {
        cell.leaseToken = res.versionstamp;
        cell.snapshotLayout = layout;
      }
      for (const id of messageIds) await faults?.afterCommit?.(cell.address, id);
      return { kind: "committed" };
    }
    if (!persisted) return { kind: "stale", state: cell.state };
    return await this.#recover(cell);
  }

  /** Writes a snapshot outside a durable turn; throws LeaseLostError if the lease moved. */
  async flush(cell: Cell, state: unknown): Promise<void> {
    if (cell.leaseToken === null) throw new LeaseLostError(cell.address);
    const op = this.#kv.atomic();
    renewLeaseIn(op, cell, { token: cell.leaseToken, ...this.#leaseOptions() });
    const layout = addSnapshot(op, cell, state, cell.snapshotLayout);
    const res = await op.commit();
    if (!res.ok) {
      cell.leaseToken = null;
      throw new LeaseLostError(cell.address);
    }
    cell.leaseToken = res.versionstamp;
    cell.snapshotLayout = layout;
  }

  /** Offers the message again later, to whichever process holds the lease by then. */
  async forward(to: Address, delivery: DurableDelivery): Promise<void> {
    const envelope = makeEnvelope(to, delivery.msg, {
      id: delivery.id,
      delayMs: this.#options.forwardDelayMs,
    });
    await this.#transport.send(
      envelope,
      this.#sendOptions(to, delivery.id, {
        options: { delayMs: this.#options.forwardDelayMs },
      }),
    );
  }

  /** Sends one durable message now. */
  async send(item: OutboxItem): Promise<void> {
    const envelope = this.#envelope(item);
    await this.#transport.send(envelope, this.#sendOptions(item.to, envelope.id, item));
  }

  /** Adds one durable message to `op`: it is sent when, and only if, the caller commits `op`. */
  sendIn(op: Deno.AtomicOperation, item: OutboxItem): void {
    const envelope = this.#envelope(item);
    this.#transport.addToAtomic(op, envelope, this.#sendOptions(item.to, envelope.id, item));
  }

  #envelope(item: OutboxItem) {
    return makeEnvelope(item.to, item.msg, {
      id: item.options.id ?? crypto.randomUUID(),
      delayMs: item.options.delayMs,
    });
  }

  /** Gives up the lease (graceful stop). */
  async release(cell: Cell): Promise<void> {
    if (cell.leaseToken === null) return;
    await releaseLease(this.#kv, cell, cell.leaseToken);
    cell.leaseToken = null;
  }

  /** After a failed commit: retake the lease and reload, or report that the actor moved. */
  async #recover(cell: Cell): Promise<CommitOutcome> {
    const lease = await acquireLease(this.#kv, cell, this.#leaseOptions());
    if (!lease.ok) {
      cell.leaseToken = null;
      return { kind: "moved" };
    }
    cell.leaseToken = lease.token;
    const loaded = await this.load(cell);
    return { kind: "stale", state: loaded ? loaded.state : cell.state };
  }

  #leaseOptions() {
    return { owner: this.#options.owner, ttlMs: this.#options.leaseTtlMs };
  }

  #sendOptions(to: Address, id: string, item: { options: { delayMs?: number } }) {
    const { kind, id: actorId } = parseAddress(to);
    return { delayMs: item.options.delayMs ?? 0, deadLetterKey: deadLetterKey(kind, actorId, id) };
  }
}

/**
 * A durable turn: runs the durable deliveries at the head of a mailbox as one group, then commits
 * the state, their dedupe keys, the lease renewal and their durable sends in one atomic operation.
 */
import type { Cell } from "../cell.ts";
import type { CommitOutcome, DurableHost, OutboxItem } from "../cell_host.ts";
import { DurableDelivery } from "../envelopes.ts";
import type { Fifo } from "../queue.ts";

/** Most durable deliveries committed together in one atomic operation. */
const DURABLE_GROUP = 32;

/** Commit conflicts retried (after reloading the state) before the actor deactivates. */
const STALE_RETRIES = 2;

/** What a durable turn needs from the actor it runs in. */
export interface DurableTurnCell {
  /** The actor, as persistence knows it. */
  readonly cell: Cell;
  /** Its mailbox: more deliveries are taken from its head, and those not run go back there. */
  readonly mailbox: Fifo<unknown>;
  /** Its last committed state. */
  committed(): unknown;
  /** Runs the behaviour on one delivery, collecting its durable sends in `outbox`. */
  receive(state: unknown, delivery: DurableDelivery, outbox: OutboxItem[]): Promise<unknown>;
  /**
   * The deliveries taken from the mailbox and not yet settled; when the turn throws, the cell
   * hands exactly these back to the transport for a retry.
   */
  failing: DurableDelivery[] | undefined;
}

/** How a durable turn ended (when it did not throw). */
export type DurableTurnOutcome =
  /** Every delivery had already been committed: nothing changed. */
  | { kind: "duplicate" }
  /** The group committed; `state` is the new committed state. */
  | { kind: "committed"; state: unknown }
  /** Another process holds the actor's lease: the deliveries were forwarded to it. */
  | { kind: "moved" };

/**
 * Runs one durable turn starting at `first`. Deliveries already committed are acknowledged and
 * dropped; the rest run in order and commit at once. When a handler throws, those before it
 * commit and the error is rethrown with `cell.failing` holding the failed delivery alone.
 */
export async function runDurableTurn(
  cell: DurableTurnCell,
  first: DurableDelivery,
  durable: DurableHost,
): Promise<DurableTurnOutcome> {
  let group = takeGroup(cell.mailbox, first);
  let base = cell.committed();
  cell.failing = group;
  for (let attempt = 0;; attempt++) {
    const done = await durable.seen(cell.cell, group.map((d) => d.id));
    for (const d of group) if (done.has(d.id)) d.finish();
    group = group.filter((d) => !done.has(d.id));
    cell.failing = group;
    if (group.length === 0) {
      cell.failing = undefined;
      return { kind: "duplicate" };
    }
    const run = await runGroup(cell, base, group);
    group = run.failed ? [...run.ran, run.failed] : run.ran;
    cell.failing = group;
    let outcome: CommitOutcome;
    try {
      outcome = await durable.commit(cell.cell, run.ran.map((d) => d.id), run.state, run.outbox);
    } catch (error) {
      if (group.length === 1) throw error;
      // Too big for one atomic operation, perhaps: commit the first alone, the rest after.
      cell.mailbox.unshiftAll(group.slice(1));
      group = group.slice(0, 1);
      cell.failing = group;
      continue;
    }
    if (outcome.kind === "committed") {
      for (const d of run.ran) d.finish();
      if (run.failed) {
        cell.failing = [run.failed];
        throw new CommittedBeforeFailure(run.state, run.error);
      }
      cell.failing = undefined;
      return { kind: "committed", state: run.state };
    }
    if (outcome.kind === "moved" || attempt >= STALE_RETRIES) {
      for (const d of group) await durable.forward(cell.cell.address, d);
      for (const d of group) d.finish();
      cell.failing = undefined;
      return { kind: "moved" };
    }
    base = outcome.state;
  }
}

/**
 * Thrown by {@linkcode runDurableTurn} when the deliveries before a failing one committed: the
 * cell adopts `state` and treats `cause` as the failed delivery's error.
 */
export class CommittedBeforeFailure extends Error {
  /** The state committed by the deliveries before the failing one. */
  readonly state: unknown;

  /** Creates it. @param state the committed state, @param cause what the failing handler threw */
  constructor(state: unknown, cause: unknown) {
    super("A durable handler failed after its group's earlier messages committed", { cause });
    this.state = state;
  }
}

/** The head of the mailbox from `first` on: consecutive durable deliveries with distinct ids. */
function takeGroup(mailbox: Fifo<unknown>, first: DurableDelivery): DurableDelivery[] {
  const group = [first];
  const ids = new Set([first.id]);
  for (let next = mailbox.peek(); group.length < DURABLE_GROUP; next = mailbox.peek()) {
    // A repeated id waits for the next turn, where it is found committed and dropped.
    if (!(next instanceof DurableDelivery) || ids.has(next.id)) break;
    ids.add(next.id);
    group.push(mailbox.shift() as DurableDelivery);
  }
  return group;
}

/**
 * Runs a group's handlers in order. When one throws, the ones after it go back to the mailbox;
 * the ones before it are returned to be committed, and the failing one with them.
 */
async function runGroup(cell: DurableTurnCell, base: unknown, group: DurableDelivery[]): Promise<{
  state: unknown;
  outbox: OutboxItem[];
  ran: DurableDelivery[];
  failed?: DurableDelivery;
  error?: unknown;
}> {
  let state = base;
  const outbox: OutboxItem[] = [];
  for (let k = 0; k < group.length; k++) {
    const d = group[k] as DurableDelivery;
    const sends = outbox.length;
    try {
      state = await cell.receive(state, d, outbox);
    } catch (error) {
      outbox.length = sends;
      cell.mailbox.unshiftAll(group.slice(k + 1));
      if (k === 0) {
        cell.failing = [d];
        throw error;
      }
      return { state, outbox, ran: group.slice(0, k), failed: d, error };
    }
  }
  return { state, outbox, ran: group };
}

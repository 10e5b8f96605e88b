/** What a cell needs from the rest of the runtime: its system, its parent, and persistence. */
import type { Address } from "./address.ts";
import type { Cell } from "./cell.ts";
import type { DurableDelivery } from "./envelopes.ts";
import type { Supervision } from "./supervision.ts";
import type {
  ActorRef,
  Behavior,
  DurableTellOptions,
  Message,
  SpawnOptions,
  TimerId,
} from "./types.ts";
import type { ActorSystem } from "./system.ts";

/** A durable tell held back until the turn that made it commits. */
export interface OutboxItem {
  to: Address;
  msg: unknown;
  options: DurableTellOptions;
}

/** The outcome of committing a durable turn. */
export type CommitOutcome =
  | { kind: "committed" }
  | { kind: "stale"; state: unknown }
  | { kind: "moved" };

/** Persistence operations the system lends to durable cells. */
export interface DurableHost {
  /** Loads the snapshot (validated), or undefined when there is none. */
  load(cell: Cell): Promise<{ state: unknown } | undefined>;
  /** Which of these messages were already committed for this actor (or cancelled). */
  seen(cell: Cell, messageIds: string[]): Promise<Set<string>>;
  /** Commits state, dedupe keys, lease renewal and outbox atomically. */
  commit(
    cell: Cell,
    messageIds: string[],
    state: unknown,
    outbox: OutboxItem[],
  ): Promise<CommitOutcome>;
  /** Persists the state outside a durable turn (ctx.snapshot(), shutdown). */
  flush(cell: Cell, state: unknown): Promise<void>;
  /** Hands a delivery this process may not handle to whoever holds the lease. */
  forward(to: Address, delivery: DurableDelivery): Promise<void>;
  /** Sends durably now (outside a durable turn). */
  send(item: OutboxItem): Promise<void>;
  /** Lets go of the actor's lease. */
  release(cell: Cell): Promise<void>;
}

/** What a cell needs from its system. */
export interface CellHost {
  readonly system: ActorSystem;
  readonly durable: DurableHost | undefined;
  register(cell: Cell): void;
  unregister(cell: Cell): void;
  ref<M>(addr: Address): ActorRef<M>;
  tell(addr: Address, msg: unknown): void;
  spawnChild<S, M extends Message>(
    parent: Cell,
    behavior: Behavior<S, M>,
    id: string,
    options: SpawnOptions | undefined,
  ): ActorRef<M>;
  stopChild(parent: Cell, addr: Address): void;
  setTimer(fn: () => void, delayMs: number): TimerId;
  clearTimer(id: TimerId): void;
  reportError(where: string, error: unknown): void;
  /** Whether shutdown's drain deadline passed, so stopping no longer waits for a running turn. */
  turnsAbandoned(): boolean;
}

/** The cell's parent: its supervision and a way to fail upward. */
export interface CellParent {
  readonly supervision: Supervision;
}

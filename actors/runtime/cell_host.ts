/** What a cell needs from the rest of the runtime: its system, its parent, and persistence. */
import type { Address } from "./address.ts";
import type { Cell } from "./cell.ts";
import type { DurableDelivery } from "./envelopes.ts";
import type { RestartTally, Supervision } from "./supervision.ts";
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
  /** The receiver. */
  to: Address;
  /** The message. */
  msg: unknown;
  /** Its id and delay. */
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
  /** Sends durably when the caller commits `op` (a KV atomic operation on the system's store). */
  sendIn(op: Deno.AtomicOperation, item: OutboxItem): void;
  /** Lets go of the actor's lease. */
  release(cell: Cell): Promise<void>;
}

/** What a cell needs from its system. */
export interface CellHost {
  /** The system the cell runs in. */
  readonly system: ActorSystem;
  /** Persistence, when the system has a KV store. */
  readonly durable: DurableHost | undefined;
  /** Makes the cell reachable at its address. */
  register(cell: Cell): void;
  /** Makes it unreachable (if it still holds its address). */
  unregister(cell: Cell): void;
  /** A ref to any address. */
  ref<M>(addr: Address): ActorRef<M>;
  /** A local tell to any address. */
  tell(addr: Address, msg: unknown): void;
  /** Starts a child supervised by `parent`. */
  spawnChild<S, M extends Message>(
    parent: Cell,
    behavior: Behavior<S, M>,
    id: string,
    options: SpawnOptions | undefined,
  ): ActorRef<M>;
  /** Stops a child of `parent` for good. */
  stopChild(parent: Cell, addr: Address): void;
  /** A timer that the system clears on shutdown. */
  setTimer(fn: () => void, delayMs: number): TimerId;
  /** Clears such a timer. */
  clearTimer(id: TimerId): void;
  /** Reports an error that has no caller to go to. */
  reportError(where: string, error: unknown): void;
  /** Whether shutdown's drain deadline passed, so stopping no longer waits for a running turn. */
  turnsAbandoned(): boolean;
  /** Where the supervisions count restarts. */
  readonly restarts: RestartTally;
}

/** The cell's parent: its supervision and a way to fail upward. */
export interface CellParent {
  /** The parent's supervision of its children. */
  readonly supervision: Supervision;
}

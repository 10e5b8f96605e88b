/** One running actor: its mailbox, its state, one message at a time, and its place in the tree. */
import { type Address, address as makeAddress } from "./address.ts";
import { AskEnvelope, DurableDelivery, SignalEnvelope } from "./envelopes.ts";
import { ActorStoppedError, AskNotAnsweredError } from "./errors.ts";
import { settleFailedTurn } from "./failure_policy.ts";
import { Fifo } from "./queue.ts";
import { makeContext, TurnState } from "./context.ts";
import type { CellHost, CellParent } from "./cell_host.ts";
import {
  CommittedBeforeFailure,
  type DurableTurnCell,
  type DurableTurnOutcome,
  runDurableTurn,
} from "./durable/turn.ts";
import {
  type SupervisedChild,
  type SupervisedEntry,
  Supervision,
  type SupervisionOwner,
} from "./supervision.ts";
import type { ActorContext, Behavior, Message, Signal, TimerId } from "./types.ts";

type Status = "starting" | "running" | "suspended" | "stopping" | "stopped";

const BATCH = 256;

/** A running actor. Internal to the runtime: authors use refs and contexts. */
export class Cell implements SupervisedChild, SupervisionOwner, CellParent {
  /** Its address, `kind/id`. */
  readonly address: Address;
  /** Its behaviour's kind. */
  readonly kind: string;
  /** Its id within the kind. */
  readonly id: string;
  /** What it runs. */
  readonly behavior: Behavior<unknown, Message>;
  /** Its supervisor. */
  readonly parent: CellParent;
  /** The context its handlers get. */
  readonly ctx: ActorContext<Message>;
  readonly #host: CellHost;
  readonly #queue = new Fifo<unknown>();
  #status: Status = "starting";
  #scheduled = false;
  #busy: Promise<void> | undefined;
  #initialized = false;
  #state: unknown = undefined;
  readonly #turn = new TurnState();
  readonly #durableTurnCell: DurableTurnCell;
  #dirty = false;
  #supervision: Supervision | undefined;
  /** Lease fencing token (a versionstamp) while this process may write the actor. */
  leaseToken: string | null = null;
  /** The snapshot's storage layout as last read or written. */
  snapshotLayout: { version: string; chunks: number } | undefined;

  /** Creates it. @param host the system, @param behavior what it runs, @param id its id, @param parent its supervisor */
  constructor(
    host: CellHost,
    behavior: Behavior<unknown, Message>,
    id: string,
    parent: CellParent,
  ) {
    this.#host = host;
    this.behavior = behavior;
    this.kind = behavior.kind;
    this.id = id;
    this.address = makeAddress(behavior.kind, id);
    this.parent = parent;
    this.ctx = makeContext(this, host, this.#turn);
    this.#durableTurnCell = {
      cell: this,
      mailbox: this.#queue,
      committed: () => this.#state,
      receive: async (state, delivery, outbox) => {
        this.#turn.current = delivery;
        this.#turn.outbox = outbox;
        try {
          return await this.behavior.receive(state, delivery.msg as Message, this.ctx);
        } finally {
          this.#turn.current = undefined;
          this.#turn.outbox = undefined;
        }
      },
      failing: undefined,
    };
  }

  /** Whether it has stopped for good. */
  get stopped(): boolean {
    return this.#status === "stopped";
  }

  /** Whether it is idle: nothing queued, nothing running. */
  get idle(): boolean {
    if (this.#status === "suspended" || this.#status === "stopped") return true;
    return this.#busy === undefined && this.#queue.length === 0 && this.#status !== "starting";
  }

  /** Whether its in-memory state differs from its last snapshot. */
  get dirty(): boolean {
    return this.#dirty;
  }

  /** The current state (for flushing). */
  get state(): unknown {
    return this.#state;
  }

  /** Its children with their restart counts (none before its first spawn). */
  get supervisionEntries(): SupervisedEntry[] {
    return this.#supervision?.entries ?? [];
  }

  /** Its children's supervision, created on first spawn. */
  get supervision(): Supervision {
    this.#supervision ??= new Supervision(this, this.behavior.supervision, this.#host.restarts);
    return this.#supervision;
  }

  /** Puts a message (or envelope) in the mailbox. */
  enqueue(item: unknown): void {
    if (this.#status === "stopped") {
      refuse(item, this.address);
      return;
    }
    this.#queue.push(item);
    if (!this.#scheduled && this.#status === "running") {
      this.#scheduled = true;
      queueMicrotask(this.#drain);
    }
  }

  /** Runs init (or loads the snapshot) and starts handling the mailbox. */
  async start(): Promise<void> {
    this.#status = "starting";
    this.#supervision?.reopen();
    try {
      const loaded = this.behavior.persistence && this.#host.durable
        ? await this.#host.durable.load(this)
        : undefined;
      this.#state = loaded
        ? loaded.state
        : await this.behavior.init(this.id, this.ctx as ActorContext<Message>);
      this.#initialized = true;
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (this.#status !== "starting") return;
    this.#status = "running";
    this.#schedule();
  }

  /** Supervisor API: stop handling, run onStop, end children; keep the mailbox. */
  async suspend(): Promise<void> {
    if (this.#status === "stopped") return;
    this.#status = "suspended";
    await this.#runningTurn();
    await this.#cleanup();
  }

  /** Supervisor API: start again after a failure or a sibling's failure. */
  resume(): Promise<void> {
    if (this.#status === "stopped") return Promise.resolve();
    return this.start();
  }

  /** Supervisor API: stop for good. */
  async terminate(): Promise<void> {
    if (this.#status === "stopped" || this.#status === "stopping") {
      return;
    }
    this.#status = "stopping";
    await this.#runningTurn();
    await this.#cleanup();
    this.#status = "stopped";
    this.#host.unregister(this);
    for (const item of this.#queue.drain()) refuse(item, this.address);
  }

  /** Stops for good without a word to the supervisor, forwarding durable mail (lease moved). */
  async deactivate(): Promise<void> {
    this.parent.supervision.remove(this);
    this.#status = "stopping";
    await this.#cleanup();
    this.#status = "stopped";
    this.#host.unregister(this);
    for (const item of this.#queue.drain()) {
      if (item instanceof DurableDelivery && this.#host.durable) {
        await this.#host.durable.forward(this.address, item);
        item.finish();
      } else refuse(item, this.address);
    }
  }

  /** Persists dirty state now (shutdown) and lets go of the lease. */
  async flushAndRelease(): Promise<void> {
    const durable = this.#host.durable;
    if (!durable || !this.behavior.persistence || this.leaseToken === null) return;
    if (this.#dirty && this.#initialized) await durable.flush(this, this.#state);
    this.#dirty = false;
    await durable.release(this);
  }

  /** SupervisionOwner: a signal to this actor, in order with its mail. */
  signal(signal: Signal): void {
    this.enqueue(new SignalEnvelope(signal));
  }

  /** SupervisionOwner: this actor's supervision gave up, so it fails. */
  escalate(error: Error): void {
    this.#fail(error);
  }

  /** SupervisionOwner: a timer the system clears on shutdown. */
  setTimer(fn: () => void, delayMs: number): TimerId {
    return this.#host.setTimer(fn, delayMs);
  }

  /** SupervisionOwner: clears such a timer. */
  clearTimer(id: TimerId): void {
    this.#host.clearTimer(id);
  }

  /** The turn being handled, to wait for before stopping; none once shutdown gave up on turns. */
  #runningTurn(): Promise<void> | undefined {
    return this.#host.turnsAbandoned() ? undefined : this.#busy;
  }

  #schedule(): void {
    if (!this.#scheduled && this.#queue.length > 0) {
      this.#scheduled = true;
      queueMicrotask(this.#drain);
    }
  }

  #drain = (): void => {
    let budget = BATCH;
    while (this.#status === "running" && this.#queue.length > 0) {
      if (budget-- === 0) {
        queueMicrotask(this.#drain);
        return;
      }
      const item = this.#queue.shift();
      let pending: Promise<void> | undefined;
      try {
        pending = this.#handle(item);
      } catch (error) {
        this.#scheduled = false;
        this.#turnFailed(item, error);
        return;
      }
      if (pending !== undefined) {
        this.#busy = pending.then(
          () => {
            this.#busy = undefined;
            this.#drain();
          },
          (error) => {
            this.#busy = undefined;
            this.#scheduled = false;
            this.#turnFailed(item, error);
          },
        );
        return;
      }
    }
    this.#scheduled = false;
  };

  #handle(item: unknown): Promise<void> | undefined {
    if (item instanceof AskEnvelope) {
      this.#turn.current = item;
      const next = this.behavior.receive(this.#state, item.msg as Message, this.ctx);
      if (next instanceof Promise) return next.then((s) => this.#endAsk(item, s));
      return this.#endAsk(item, next);
    }
    if (item instanceof DurableDelivery) return this.#durableTurn(item);
    if (item instanceof SignalEnvelope) {
      const onSignal = this.behavior.onSignal;
      if (!onSignal) return undefined;
      const next = onSignal.call(this.behavior, this.#state, item.signal, this.ctx);
      if (next instanceof Promise) return next.then((s) => this.#endTell(s));
      return this.#endTell(next);
    }
    const next = this.behavior.receive(this.#state, item as Message, this.ctx);
    if (next instanceof Promise) return next.then((s) => this.#endTell(s));
    return this.#endTell(next);
  }

  #endTell(next: unknown): Promise<void> | undefined {
    if (next !== this.#state) this.#dirty = true;
    this.#state = next;
    return this.#afterTurn();
  }

  #endAsk(ask: AskEnvelope, next: unknown): Promise<void> | undefined {
    this.#turn.current = undefined;
    if (!ask.settled && !ask.deferred) {
      ask.settle(new AskNotAnsweredError(this.address, messageType(ask.msg)));
    }
    return this.#endTell(next);
  }

  #afterTurn(): Promise<void> | undefined {
    if (!this.#turn.stopRequested && !this.#turn.snapshotRequested) return undefined;
    return this.#afterTurnAsync();
  }

  async #afterTurnAsync(): Promise<void> {
    if (this.#turn.snapshotRequested) {
      this.#turn.snapshotRequested = false;
      const durable = this.#host.durable;
      if (durable && this.behavior.persistence && this.#dirty) {
        await durable.flush(this, this.#state);
        this.#dirty = false;
      }
    }
    if (this.#turn.stopRequested) {
      this.#turn.stopRequested = false;
      this.#status = "stopping";
      queueMicrotask(() => void this.#exitNormally());
    }
  }

  async #exitNormally(): Promise<void> {
    await this.#cleanup();
    this.#status = "suspended";
    if (this.parent.supervision.childExited(this)) return;
    this.#status = "stopped";
    this.#host.unregister(this);
    for (const item of this.#queue.drain()) refuse(item, this.address);
  }

  async #durableTurn(first: DurableDelivery): Promise<void> {
    const durable = this.#host.durable;
    if (!durable) throw new Error("Durable delivery needs a KV store: start the system with kv");
    let outcome: DurableTurnOutcome;
    try {
      outcome = await runDurableTurn(this.#durableTurnCell, first, durable);
    } catch (error) {
      if (!(error instanceof CommittedBeforeFailure)) throw error;
      this.#state = error.state;
      this.#dirty = false;
      throw error.cause;
    }
    if (outcome.kind === "committed") {
      this.#state = outcome.state;
      this.#dirty = false;
      return this.#afterTurn();
    }
    if (outcome.kind === "moved") {
      this.#status = "stopping";
      queueMicrotask(() => void this.deactivate());
    }
  }

  /** A turn threw: settle what it handled, then crash or carry on (see failure_policy.ts). */
  #turnFailed(item: unknown, error: unknown): void {
    this.#turn.current = undefined;
    this.#turn.outbox = undefined;
    const failing = this.#durableTurnCell.failing;
    this.#durableTurnCell.failing = undefined;
    const after = settleFailedTurn(this.address, item, error, failing);
    if (this.#status !== "running") return;
    if (after.kind === "crash") {
      this.#fail(error);
      return;
    }
    this.#host.reportError(
      `durable message ${
        after.messageIds.join(", ")
      } to ${this.address} (left to its retries, then a dead letter)`,
      error,
    );
    this.#schedule();
  }

  #fail(error: unknown): void {
    if (this.#status === "stopped" || this.#status === "stopping") return;
    this.#status = "suspended";
    void this.#cleanup().then(() => this.parent.supervision.childFailed(this, error));
  }

  async #cleanup(): Promise<void> {
    for (const t of this.#turn.timers) this.#host.clearTimer(t);
    this.#turn.timers.clear();
    await this.#supervision?.close();
    if (this.#initialized && this.behavior.onStop) {
      this.#initialized = false;
      try {
        await this.behavior.onStop(this.#state, this.ctx);
      } catch (error) {
        this.#host.reportError(`onStop of ${this.address}`, error);
      }
    }
    this.#initialized = false;
  }
}

function refuse(item: unknown, addr: Address): void {
  if (item instanceof AskEnvelope) item.settle(new ActorStoppedError(addr));
  else if (item instanceof DurableDelivery) item.finish(new ActorStoppedError(addr));
}

function messageType(msg: unknown): string {
  return typeof msg === "object" && msg !== null && "type" in msg ? String(msg.type) : "?";
}

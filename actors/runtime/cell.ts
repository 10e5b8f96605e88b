/** One running actor: its mailbox, its state, one message at a time, and its place in the tree. */
import { type Address, address as makeAddress } from "./address.ts";
import { AskEnvelope, DurableDelivery, SignalEnvelope } from "./envelopes.ts";
import { ActorFailedError, ActorStoppedError, AskNotAnsweredError } from "./errors.ts";
import { Fifo } from "./queue.ts";
import { makeContext, TurnState } from "./context.ts";
import type { CellHost, CellParent, CommitOutcome, OutboxItem } from "./cell_host.ts";
import { type SupervisedChild, Supervision, type SupervisionOwner } from "./supervision.ts";
import type { ActorContext, Behavior, Message, Signal, TimerId } from "./types.ts";

type Status = "starting" | "running" | "suspended" | "stopping" | "stopped";

const BATCH = 256;

/** Most durable deliveries committed together in one atomic operation. */
const DURABLE_GROUP = 32;

/** A running actor. Internal to the runtime: authors use refs and contexts. */
export class Cell implements SupervisedChild, SupervisionOwner, CellParent {
  readonly address: Address;
  readonly kind: string;
  readonly id: string;
  readonly behavior: Behavior<unknown, Message>;
  readonly parent: CellParent;
  readonly ctx: ActorContext<Message>;
  readonly #host: CellHost;
  #queue = new Fifo<unknown>();
  #status: Status = "starting";
  #scheduled = false;
  #busy: Promise<void> | undefined;
  #initialized = false;
  #state: unknown = undefined;
  readonly #turn = new TurnState();
  #failing: DurableDelivery[] | undefined;
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

  /** Its children's supervision, created on first spawn. */
  get supervision(): Supervision {
    this.#supervision ??= new Supervision(this, this.behavior.supervision);
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
    await this.#busy;
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
    await this.#busy;
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
        this.#turnFailed(item, error);
        this.#scheduled = false;
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
            this.#turnFailed(item, error);
            this.#scheduled = false;
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

  /**
   * Handles the durable deliveries at the head of the mailbox as one group: every message whose
   * id is not yet committed runs in order, then the state, all their dedupe keys, the lease
   * renewal and their durable sends commit in one atomic operation (a group commit).
   * `#failing` always holds the deliveries taken from the mailbox and not yet settled, so a
   * throw settles exactly those (the transport retries them).
   */
  async #durableTurn(first: DurableDelivery): Promise<void> {
    const durable = this.#host.durable;
    if (!durable) throw new Error("Durable delivery needs a KV store: start the system with kv");
    let group = [first];
    const ids = new Set([first.id]);
    for (let next = this.#queue.peek(); group.length < DURABLE_GROUP; next = this.#queue.peek()) {
      // A repeated id waits for the next turn, where it is found committed and dropped.
      if (!(next instanceof DurableDelivery) || ids.has(next.id)) break;
      ids.add(next.id);
      group.push(this.#queue.shift() as DurableDelivery);
    }
    this.#failing = group;
    for (let attempt = 0;; attempt++) {
      const done = await durable.seen(this, group.map((d) => d.id));
      for (const d of group) if (done.has(d.id)) d.finish();
      group = group.filter((d) => !done.has(d.id));
      this.#failing = group;
      if (group.length === 0) {
        this.#failing = undefined;
        return;
      }
      const run = await this.#runGroup(group);
      group = run.failed ? [...run.ran, run.failed] : run.ran;
      this.#failing = group;
      let outcome: CommitOutcome;
      try {
        outcome = await durable.commit(this, run.ran.map((d) => d.id), run.state, run.outbox);
      } catch (error) {
        if (group.length === 1) throw error;
        // Too big for one atomic operation, perhaps: commit the first alone, the rest after.
        this.#queue.unshiftAll(group.slice(1));
        group = group.slice(0, 1);
        this.#failing = group;
        continue;
      }
      if (outcome.kind === "committed") {
        this.#state = run.state;
        this.#dirty = false;
        for (const d of run.ran) d.finish();
        if (run.failed) {
          this.#failing = [run.failed];
          throw run.error;
        }
        this.#failing = undefined;
        return this.#afterTurn();
      }
      if (outcome.kind === "moved" || attempt >= 2) {
        for (const d of group) await durable.forward(this.address, d);
        for (const d of group) d.finish();
        this.#failing = undefined;
        this.#status = "stopping";
        queueMicrotask(() => void this.deactivate());
        return;
      }
      this.#state = outcome.state;
    }
  }

  /**
   * Runs a group's handlers in order. When one throws, the ones after it go back to the
   * mailbox; the ones before it are returned to be committed, and the failing one with them.
   */
  async #runGroup(group: DurableDelivery[]): Promise<{
    state: unknown;
    outbox: OutboxItem[];
    ran: DurableDelivery[];
    failed?: DurableDelivery;
    error?: unknown;
  }> {
    let state = this.#state;
    const outbox: OutboxItem[] = [];
    for (let k = 0; k < group.length; k++) {
      const d = group[k] as DurableDelivery;
      const sends = outbox.length;
      this.#turn.current = d;
      this.#turn.outbox = outbox;
      try {
        state = await this.behavior.receive(state, d.msg as Message, this.ctx);
      } catch (error) {
        outbox.length = sends;
        this.#queue.unshiftAll(group.slice(k + 1));
        if (k === 0) {
          this.#failing = [d];
          throw error;
        }
        return { state, outbox, ran: group.slice(0, k), failed: d, error };
      } finally {
        this.#turn.current = undefined;
        this.#turn.outbox = undefined;
      }
    }
    return { state, outbox, ran: group };
  }

  #turnFailed(item: unknown, error: unknown): void {
    this.#turn.current = undefined;
    this.#turn.outbox = undefined;
    if (item instanceof AskEnvelope) item.settle(new ActorFailedError(this.address, error));
    if (item instanceof DurableDelivery) {
      for (const d of this.#failing ?? [item]) d.finish(new ActorFailedError(this.address, error));
      this.#failing = undefined;
    }
    if (this.#status === "running") this.#fail(error);
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

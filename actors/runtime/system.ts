/** The actor system: spawns and finds actors, runs the durable transport, and stops gracefully. */
import { type Address, address as makeAddress, parseAddress } from "./address.ts";
import { Cell } from "./cell.ts";
import type { CellHost, CellParent } from "./cell_host.ts";
import { newId } from "./context.ts";
import { describeError } from "./errors.ts";
import { LocalRef } from "./refs.ts";
import { Root } from "./root.ts";
import { logger } from "./log.ts";
import type { RestartTally, SupervisedEntry } from "./supervision.ts";

import type {
  ActorRef,
  AnyBehavior,
  Behavior,
  DurableTellOptions,
  Message,
  SpawnOptions,
  TimerId,
} from "./types.ts";
import { KvDurableHost } from "./durable/host.ts";
import { DurableInbox } from "./durable/inbox.ts";
import { listDeadLetters } from "./durable/dead_letters.ts";
import { cancelKey } from "./durable/keys.ts";
import { type DurableTransport, KvQueueTransport } from "./durable/transport.ts";
import {
  type ActorSystemOptions,
  checkRetrySchedule,
  type DeadLetter,
  DEFAULT_RETRY_SCHEDULE_MS,
  type ShutdownOptions,
} from "./system_options.ts";

/** One actor in {@linkcode ActorSystem.supervisionTree}. */
export interface SupervisionNode extends SupervisedEntry {
  children: SupervisionNode[];
}

/** An actor system: one per process, optionally backed by a Deno KV store. */
export class ActorSystem {
  readonly #cells = new Map<Address, Cell>();
  readonly #kinds = new Map<string, AnyBehavior>();
  readonly #timers = new Set<TimerId>();
  readonly #root: Root;
  readonly #host: CellHost;
  readonly #kv: Deno.Kv | undefined;
  readonly #ownsKv: boolean;
  readonly #transport: DurableTransport | undefined;
  readonly #durable: KvDurableHost | undefined;
  readonly #inbox: DurableInbox | undefined;
  readonly #options: ActorSystemOptions;
  readonly #nodeId: string;
  #stopping = false;
  #turnsAbandoned = false;
  #sweeping: Promise<void> | undefined;
  #shutdown: Promise<void> | undefined;
  /** Tells to addresses where no actor lives. */
  undelivered = 0;
  /** Restarts of any actor by its supervisor since the system started. */
  readonly restarts: RestartTally = { restarts: 0 };

  private constructor(kv: Deno.Kv | undefined, ownsKv: boolean, options: ActorSystemOptions) {
    this.#kv = kv;
    this.#ownsKv = ownsKv;
    this.#options = options;
    this.#nodeId = options.nodeId ?? crypto.randomUUID();
    const timers = {
      set: (fn: () => void, ms: number) => this.#setTimer(fn, ms),
      clear: (id: TimerId) => this.#clearTimer(id),
    };
    this.#root = new Root(options.root ?? { intensity: 10, periodMs: 10_000 }, {
      isStopping: () => this.#stopping,
      onFailure: options.onRootFailure ?? ((error) => void this.#rootFailed(error)),
      timers,
      tally: this.restarts,
    });
    if (kv) {
      const retries = checkRetrySchedule(options.retryScheduleMs ?? DEFAULT_RETRY_SCHEDULE_MS);
      this.#transport = options.transport ?? new KvQueueTransport(kv, retries);
      this.#durable = new KvDurableHost(kv, this.#transport, {
        owner: this.#nodeId,
        leaseTtlMs: options.leaseTtlMs ?? 30_000,
        dedupeTtlMs: options.dedupeTtlMs ?? 7 * 24 * 3600_000,
        forwardDelayMs: options.forwardDelayMs ?? 500,
        faults: options.faults,
      });
      this.#inbox = new DurableInbox(kv, this.#transport, this.#durable, {
        isStopping: () => this.#stopping,
        kinds: this.#kinds,
        lookup: (addr) => this.#cells.get(addr),
        spawnActivated: (behavior, id, token) => {
          this.#spawn(this.#root, behavior, id, undefined, token);
          return this.#cells.get(makeAddress(behavior.kind, id));
        },
        reportError: (where, error) => this.#host.reportError(where, error),
      }, { owner: this.#nodeId, leaseTtlMs: options.leaseTtlMs ?? 30_000 });
    }
    const onError = options.onError ??
      ((where: string, error: unknown) =>
        logger.error("actor error", { where, error: describeError(error) }));
    this.#host = {
      system: this,
      durable: this.#durable,
      register: (cell) => this.#cells.set(cell.address, cell),
      unregister: (cell) => {
        if (this.#cells.get(cell.address) === cell) this.#cells.delete(cell.address);
      },
      ref: (addr) => this.ref(addr),
      spawnChild: (parent, behavior, id, options) =>
        this.#spawn(parent, behavior as AnyBehavior, id, options),
      stopChild: (parent, addr) => {
        const cell = this.#cells.get(addr);
        if (!cell || cell.parent !== parent) return;
        parent.supervision.remove(cell);
        void cell.terminate();
      },
      tell: (addr, msg) => {
        const cell = this.#cells.get(addr);
        if (cell) cell.enqueue(msg);
        else this.undelivered++;
      },
      setTimer: timers.set,
      clearTimer: timers.clear,
      reportError: onError,
      turnsAbandoned: () => this.#turnsAbandoned,
      restarts: this.restarts,
    };
    for (const b of options.behaviors ?? []) this.#kinds.set(b.kind, b);
  }

  /** Starts a system; with `kvPath` or `kv` it listens for durable messages and rehydrates. */
  static async start(options: ActorSystemOptions = {}): Promise<ActorSystem> {
    const kv = options.kv ??
      (options.kvPath !== undefined ? await Deno.openKv(options.kvPath) : undefined);
    const ownsKv = options.kv === undefined && kv !== undefined;
    let system: ActorSystem;
    try {
      system = new ActorSystem(kv, ownsKv, options);
    } catch (error) {
      if (ownsKv) kv?.close();
      throw error;
    }
    system.#startOptions = options;
    if (options.listen ?? true) await system.listen();
    return system;
  }

  #startOptions: ActorSystemOptions = {};
  #listening = false;

  /**
   * Rehydrates the durable actors and starts taking durable messages: done by {@linkcode start}
   * unless it was given `listen: false`, so that kinds registered after it are known first.
   */
  async listen(): Promise<void> {
    const inbox = this.#inbox;
    if (!inbox || this.#listening) return;
    this.#listening = true;
    const options = this.#startOptions;
    if (options.rehydrate ?? true) await inbox.rehydrate();
    inbox.listen();
    const path = options.kvPath;
    if (path !== undefined) {
      for (const ms of options.recoverySweepsMs ?? [2_500, 5_000, 8_000]) {
        this.#setTimer(() => void (this.#sweeping = inbox.sweep(path)), ms);
      }
    }
  }

  /**
   * Adds a durable kind after start, for kinds whose behaviour needs services made after the
   * system. Its messages that arrive before are retried by the transport until it is known.
   */
  registerKind(behavior: AnyBehavior): void {
    this.#kinds.set(behavior.kind, behavior);
  }

  /** This node's name in leases. */
  get nodeId(): string {
    return this.#nodeId;
  }

  /** Whether shutdown has begun. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** The KV store, when durable. */
  get kv(): Deno.Kv | undefined {
    return this.#kv;
  }

  /** Starts a top-level actor supervised by the root (one_for_one). */
  spawn<S, M extends Message>(
    behavior: Behavior<S, M>,
    id: string,
    options?: SpawnOptions,
  ): ActorRef<M> {
    return this.#spawn(this.#root, behavior as unknown as AnyBehavior, id, options);
  }

  /** A ref to whatever actor lives (or will live) at `addr`. */
  ref<M>(addr: Address): ActorRef<M> {
    return new LocalRef<M>(addr, (a) => this.#cells.get(a), () => this.undelivered++);
  }

  /** Whether an actor runs at `addr` in this process. */
  has(addr: Address): boolean {
    return this.#cells.has(addr);
  }

  /** How many actors of `kind` run in this process now. */
  countOf(kind: string): number {
    const prefix = `${kind}/`;
    let count = 0;
    for (const addr of this.#cells.keys()) if (addr.startsWith(prefix)) count++;
    return count;
  }

  /** The children of `addr`, in start order. */
  childrenOf(addr: Address): Address[] {
    return this.#cells.get(addr)?.supervision.children ?? [];
  }

  /**
   * The supervision tree: the root's children, each with its restart type, restart count and
   * own children, in start order.
   */
  supervisionTree(): SupervisionNode[] {
    const walk = (entries: SupervisedEntry[]): SupervisionNode[] =>
      entries.map((e) => ({
        ...e,
        children: walk(this.#cells.get(e.address)?.supervisionEntries ?? []),
      }));
    return walk(this.#root.supervision.entries);
  }

  /** Stops a top-level actor (it is not restarted). */
  async stop(addr: Address): Promise<void> {
    const cell = this.#cells.get(addr);
    if (!cell) return;
    cell.parent.supervision.remove(cell);
    await cell.terminate();
  }

  /**
   * Sends a durable message through KV: it survives a crash, is retried, ends as a dead letter
   * when its retries run out, and changes its receiver's state once per id.
   */
  async tellDurable(to: Address, msg: unknown, options: DurableTellOptions = {}): Promise<string> {
    const durable = this.#requireDurable("tellDurable");
    const id = options.id ?? newId();
    await durable.send({ to, msg, options: { ...options, id } });
    return id;
  }

  /**
   * {@linkcode tellDurable} within `op`, an atomic operation on this system's KV store: the
   * message is sent when, and only if, the caller's commit of `op` succeeds (a transactional
   * outbox), so a state change and its timer are written together.
   */
  tellDurableIn(
    op: Deno.AtomicOperation,
    to: Address,
    msg: unknown,
    options: DurableTellOptions = {},
  ): string {
    const durable = this.#requireDurable("tellDurableIn");
    const id = options.id ?? newId();
    durable.sendIn(op, { to, msg, options: { ...options, id } });
    return id;
  }

  /** Cancels a durable timer: its delivery is dropped when it comes due. */
  cancelDurable(to: Address, messageId: string): void {
    const kv = this.#kv;
    if (!kv) return;
    const { kind, id } = parseAddress(to);
    void kv.set(cancelKey(kind, id, messageId), true, { expireIn: 31 * 24 * 3600_000 })
      .catch((e) => this.#host.reportError(`cancel timer ${messageId}`, e));
  }

  /** Dead-letter records, optionally of one actor. */
  deadLetters(to?: Address): Promise<DeadLetter[]> {
    return listDeadLetters(this.#requireKv("deadLetters"), to);
  }

  /** Stops intake, drains mailboxes up to the deadline, flushes snapshots, stops all, closes KV. */
  shutdown(options: ShutdownOptions = {}): Promise<void> {
    this.#shutdown ??= this.#doShutdown(options.deadlineMs ?? 5_000);
    return this.#shutdown;
  }

  async #doShutdown(deadlineMs: number): Promise<void> {
    this.#stopping = true;
    const until = Date.now() + deadlineMs;
    while ([...this.#cells.values()].some((c) => !c.idle)) {
      if (Date.now() >= until) {
        // A turn still running now may never end (a hung upstream call): stop without it.
        this.#turnsAbandoned = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    for (const cell of this.#cells.values()) {
      try {
        await cell.flushAndRelease();
      } catch (error) {
        this.#host.reportError(`flush of ${cell.address}`, error);
      }
    }
    await this.#root.supervision.close();
    for (const cell of [...this.#cells.values()]) await cell.terminate();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await this.#sweeping;
    if (this.#kv && this.#ownsKv) {
      this.#kv.close();
      await this.#transport?.closed();
    }
  }

  #spawn(
    parent: CellParent,
    behavior: AnyBehavior,
    id: string,
    options: SpawnOptions | undefined,
    leaseToken: string | null = null,
  ): ActorRef<never> {
    if (this.#stopping) {
      throw new Error(`Cannot spawn ${behavior.kind}/${id}: the actor system is stopping`);
    }
    const addr = makeAddress(behavior.kind, id);
    if (this.#cells.has(addr)) {
      throw new Error(`Actor ${addr} already runs: use system.ref() to reach it or stop it first`);
    }
    if (behavior.persistence) {
      this.#requireDurable(`spawn of durable ${addr}`);
      if (!this.#kinds.has(behavior.kind)) this.#kinds.set(behavior.kind, behavior);
    }
    const cell = new Cell(this.#host, behavior, id, parent);
    cell.leaseToken = leaseToken;
    this.#cells.set(addr, cell);
    parent.supervision.add(cell, options);
    void cell.start();
    return new LocalRef(addr, (a) => this.#cells.get(a), () => this.undelivered++, cell);
  }

  async #rootFailed(error: Error): Promise<void> {
    logger.error("the root supervisor gave up, stopping", { error: describeError(error) });
    await this.shutdown({ deadlineMs: 1_000 });
    await logger.flush();
    Deno.exit(1);
  }

  #setTimer(fn: () => void, ms: number): TimerId {
    const id = setTimeout(() => {
      this.#timers.delete(id);
      fn();
    }, ms);
    this.#timers.add(id);
    return id;
  }

  #clearTimer(id: TimerId): void {
    clearTimeout(id);
    this.#timers.delete(id);
  }

  #requireKv(what: string): Deno.Kv {
    if (!this.#kv) throw new Error(`${what} needs a KV store: start the system with kvPath or kv`);
    return this.#kv;
  }

  #requireDurable(what: string): KvDurableHost {
    this.#requireKv(what);
    return this.#durable as KvDurableHost;
  }
}

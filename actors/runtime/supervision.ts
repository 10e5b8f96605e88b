/** OTP-style supervision of ordered children: restart types, strategies, backoff and intensity. */
import type { Address } from "./address.ts";
import { backoffDelayMs, resolveBackoff, type ResolvedBackoff, RestartWindow } from "./backoff.ts";
import { describeError, EscalationError } from "./errors.ts";
import type { RestartType, Signal, SpawnOptions, SupervisionOptions, TimerId } from "./types.ts";

/** What a supervisor needs from a child: stop it for a restart, start it again, or end it. */
export interface SupervisedChild {
  readonly address: Address;
  /** Stops handling messages and runs its stop hook, keeping its mailbox for the restart. */
  suspend(): Promise<void>;
  /** Runs init again and resumes its mailbox. */
  resume(): Promise<void>;
  /** Stops it for good (mailbox answered with ActorStoppedError). */
  terminate(): Promise<void>;
}

/** What a supervisor needs from its owner (an actor, or the system's root). */
export interface SupervisionOwner {
  readonly address: Address;
  /** Delivers a signal through the owner's mailbox. */
  signal(signal: Signal): void;
  /** The owner gives up: its own parent decides. */
  escalate(error: Error): void;
  /** Starts a timer that the system clears on shutdown. */
  setTimer(fn: () => void, delayMs: number): TimerId;
  /** Clears such a timer. */
  clearTimer(id: TimerId): void;
}

interface Entry {
  child: SupervisedChild;
  restart: RestartType;
  backoff: ResolvedBackoff;
  window: RestartWindow;
  /** Restarts of this child since it was added. */
  restarts: number;
}

/** Restarts counted across every supervision of one actor system (for its metrics). */
export interface RestartTally {
  restarts: number;
}

/** One supervised child as the supervision tree lists it. */
export interface SupervisedEntry {
  address: Address;
  restart: RestartType;
  /** Restarts since it was started. */
  restarts: number;
}

/** Supervision settings with defaults filled in. */
export type ResolvedSupervision = Required<SupervisionOptions>;

/** Fills in the defaults of {@linkcode SupervisionOptions}. */
export function resolveSupervision(options: SupervisionOptions | undefined): ResolvedSupervision {
  return {
    strategy: options?.strategy ?? "one_for_one",
    intensity: options?.intensity ?? 3,
    periodMs: options?.periodMs ?? 5_000,
  };
}

/** The children of one owner, in start order, and what happens when one of them exits. */
export class Supervision {
  readonly #owner: SupervisionOwner;
  readonly #options: ResolvedSupervision;
  readonly #window: RestartWindow;
  #entries: Entry[] = [];
  #pending = new Set<SupervisedChild>();
  #timer: TimerId | undefined;
  #closed = false;
  readonly #tally: RestartTally | undefined;

  /**
   * Creates it. @param owner the supervising actor, @param options strategy and intensity,
   * @param tally where every restart is also counted
   */
  constructor(
    owner: SupervisionOwner,
    options: SupervisionOptions | undefined,
    tally?: RestartTally,
  ) {
    this.#owner = owner;
    this.#tally = tally;
    this.#options = resolveSupervision(options);
    this.#window = new RestartWindow(this.#options.intensity, this.#options.periodMs);
  }

  /** The children's addresses in start order. */
  get children(): Address[] {
    return this.#entries.map((e) => e.child.address);
  }

  /** The children in start order with their restart types and restart counts. */
  get entries(): SupervisedEntry[] {
    return this.#entries.map((e) => ({
      address: e.child.address,
      restart: e.restart,
      restarts: e.restarts,
    }));
  }

  /** Adds a child at the end of the start order. */
  add(child: SupervisedChild, options: SpawnOptions | undefined): void {
    const backoff = resolveBackoff(options?.backoff);
    this.#entries.push({
      child,
      restart: options?.restart ?? "permanent",
      backoff,
      window: new RestartWindow(Number.MAX_SAFE_INTEGER, this.#options.periodMs),
      restarts: 0,
    });
  }

  /** Whether `child` is one of these children. */
  has(child: SupervisedChild): boolean {
    return this.#entries.some((e) => e.child === child);
  }

  /** Forgets a child that was stopped on purpose. */
  remove(child: SupervisedChild): void {
    this.#entries = this.#entries.filter((e) => e.child !== child);
    this.#pending.delete(child);
  }

  /** A child crashed (already suspended): signal the owner, then restart per strategy. */
  childFailed(child: SupervisedChild, error: unknown): void {
    const entry = this.#entries.find((e) => e.child === child);
    if (!entry || this.#closed) return;
    const restarting = entry.restart !== "temporary";
    this.#owner.signal({
      type: "ChildFailed",
      child: child.address,
      error: describeError(error),
      restarting,
    });
    if (!restarting) {
      this.remove(child);
      void child.terminate();
      return;
    }
    this.#restart(entry, error);
  }

  /**
   * A child stopped itself normally: a permanent one is restarted (returns true), the others
   * are forgotten (returns false).
   */
  childExited(child: SupervisedChild): boolean {
    const entry = this.#entries.find((e) => e.child === child);
    if (!entry || this.#closed) return false;
    if (entry.restart !== "permanent") {
      this.remove(child);
      return false;
    }
    this.#restart(entry, new Error(`Permanent child ${child.address} exited`));
    return true;
  }

  /** Terminates every child, last started first, and accepts no more work. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) this.#owner.clearTimer(this.#timer);
    this.#timer = undefined;
    const entries = this.#entries.reverse();
    this.#entries = [];
    this.#pending.clear();
    for (const e of entries) await e.child.terminate();
  }

  /** Lets a closed supervision take children again (the owner restarted). */
  reopen(): void {
    this.#closed = false;
  }

  #restart(entry: Entry, error: unknown): void {
    const now = Date.now();
    entry.window.record(now);
    entry.restarts++;
    if (this.#tally) this.#tally.restarts++;
    if (this.#window.record(now)) {
      const { intensity, periodMs } = this.#options;
      const detail = `more than ${intensity} restarts within ${periodMs} ms (last: ${
        describeError(error)
      })`;
      void this.close().then(() =>
        this.#owner.escalate(new EscalationError(this.#owner.address, detail, error))
      );
      return;
    }
    const index = this.#entries.indexOf(entry);
    const affected = this.#options.strategy === "one_for_one"
      ? [entry]
      : this.#options.strategy === "one_for_all"
      ? [...this.#entries]
      : this.#entries.slice(index);
    void this.#restartGroup(entry, affected);
  }

  async #restartGroup(failed: Entry, affected: Entry[]): Promise<void> {
    for (const e of [...affected].reverse()) {
      if (e === failed || this.#pending.has(e.child)) continue;
      if (e.restart === "temporary") {
        this.remove(e.child);
        await e.child.terminate();
      } else {
        await e.child.suspend();
      }
    }
    if (this.#closed) return;
    for (const e of affected) if (e.restart !== "temporary") this.#pending.add(e.child);
    const attempt = failed.window.count(Date.now()) - 1;
    const delay = backoffDelayMs(failed.backoff, attempt);
    if (this.#timer !== undefined) this.#owner.clearTimer(this.#timer);
    this.#timer = this.#owner.setTimer(() => {
      this.#timer = undefined;
      void this.#resumePending();
    }, delay);
  }

  async #resumePending(): Promise<void> {
    const order = this.#entries.filter((e) => this.#pending.has(e.child));
    for (const e of order) {
      if (this.#closed) return;
      this.#pending.delete(e.child);
      await e.child.resume();
    }
  }
}

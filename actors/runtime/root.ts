/** The root of the supervision tree: top-level actors are its children. */
import type { CellParent } from "./cell_host.ts";
import { type RestartTally, Supervision, type SupervisionOwner } from "./supervision.ts";
import type { SupervisionOptions, TimerId } from "./types.ts";

/** Timers that the system clears on shutdown. */
export interface SystemTimers {
  set(fn: () => void, ms: number): TimerId;
  clear(id: TimerId): void;
}

/** The root supervisor; its giving up is the system's failure. */
export class Root implements CellParent, SupervisionOwner {
  readonly address = "system/root";
  readonly supervision: Supervision;
  readonly #isStopping: () => boolean;
  readonly #onFailure: (error: Error) => void;
  readonly #timers: SystemTimers;

  /** Creates it. @param options its supervision, @param onFailure what happens when it gives up */
  constructor(
    options: SupervisionOptions,
    hooks: {
      isStopping: () => boolean;
      onFailure: (error: Error) => void;
      timers: SystemTimers;
      tally?: RestartTally;
    },
  ) {
    this.#isStopping = hooks.isStopping;
    this.#onFailure = hooks.onFailure;
    this.#timers = hooks.timers;
    this.supervision = new Supervision(this, options, hooks.tally);
  }

  /** Signals to the root have no handler. */
  signal(): void {}

  /** The root gave up. */
  escalate(error: Error): void {
    if (!this.#isStopping()) this.#onFailure(error);
  }

  /** A system timer. */
  setTimer(fn: () => void, delayMs: number): TimerId {
    return this.#timers.set(fn, delayMs);
  }

  /** Clears a system timer. */
  clearTimer(id: TimerId): void {
    this.#timers.clear(id);
  }
}

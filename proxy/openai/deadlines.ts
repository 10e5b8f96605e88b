/** Request deadlines on one shared timer: cheaper per request than a `setTimeout` each, at a resolution of `tickMs`. */
import { errorField, logger } from "../../actors/runtime/log.ts";

/** A registered deadline. */
export interface Deadline {
  readonly atMs: number;
  readonly fire: () => void;
}

/** Options of {@linkcode Deadlines}. */
export interface DeadlinesOptions {
  /** How often deadlines are checked, in ms; a deadline fires at most this late. @default 50 */
  tickMs?: number;
}

/** A set of deadlines checked by one interval timer, which runs only while some are pending (give or take a tick). */
export class Deadlines {
  #pending = new Set<Deadline>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #tickMs: number;

  /** @param options the tick */
  constructor(options: DeadlinesOptions = {}) {
    this.#tickMs = options.tickMs ?? 50;
  }

  /** Calls `fire` once `delayMs` have passed, unless removed first. */
  add(delayMs: number, fire: () => void): Deadline {
    const deadline = { atMs: performance.now() + delayMs, fire };
    this.#pending.add(deadline);
    this.#timer ??= setInterval(() => this.#check(), this.#tickMs);
    return deadline;
  }

  /** Forgets a deadline (a no-op once it fired). */
  remove(deadline: Deadline): void {
    // The timer stops at its next tick if nothing is pending, not here: at one request at a time,
    // stopping and restarting it per request would cost more than the tick.
    this.#pending.delete(deadline);
  }

  /** How many deadlines are pending. */
  get size(): number {
    return this.#pending.size;
  }

  /** Forgets every deadline and stops the timer. */
  clear(): void {
    this.#pending.clear();
    this.#stop();
  }

  #check(): void {
    const now = performance.now();
    for (const deadline of this.#pending) {
      if (deadline.atMs > now) continue;
      this.#pending.delete(deadline);
      try {
        deadline.fire();
      } catch (error) {
        logger.error("a request deadline failed", { error: errorField(error) });
      }
    }
    if (this.#pending.size === 0) this.#stop();
  }

  #stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

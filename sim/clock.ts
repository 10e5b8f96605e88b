/** Clocks that drive the engine: a virtual one for tests and a scaled real one for serving. */

/** A pending timer; `cancel` is safe to call more than once. */
export interface ClockTimer {
  /** Stops the timer if it has not fired yet. */
  cancel(): void;
}

/** Time as the simulated GPU sees it, in ms, and timers on that time line. */
export interface Clock {
  /** Current simulated time in ms. */
  now(): number;
  /** Runs `fn` once simulated time reaches `atMs` (at once, asynchronously, if it has passed). */
  at(atMs: number, fn: () => void): ClockTimer;
  /** Real ms per simulated ms: 1 / time scale for a real clock, 0 for a virtual one. */
  readonly realMsPerSimMs: number;
}

interface VirtualTimer {
  atMs: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A clock that moves only when told: deterministic tests of the engine. */
export class VirtualClock implements Clock {
  #now = 0;
  #seq = 0;
  #timers: VirtualTimer[] = [];
  /** Virtual clocks take no real time. */
  readonly realMsPerSimMs = 0;

  /** Current virtual time in ms. */
  now(): number {
    return this.#now;
  }

  /** Schedules `fn` at virtual time `atMs` (or now, if that has passed). */
  at(atMs: number, fn: () => void): ClockTimer {
    const timer: VirtualTimer = {
      atMs: Math.max(atMs, this.#now),
      seq: this.#seq++,
      fn,
      cancelled: false,
    };
    this.#timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** Fires every timer due up to `atMs` in time order, then sets the time to `atMs`. */
  advanceTo(atMs: number): void {
    for (;;) {
      const next = this.#nextDue(atMs);
      if (!next) break;
      this.#now = next.atMs;
      next.fn();
    }
    this.#now = Math.max(this.#now, atMs);
  }

  /** Advances by `ms`. */
  advance(ms: number): void {
    this.advanceTo(this.#now + ms);
  }

  /** Fires timers until none is left (bounded by `limitMs` of virtual time); returns the time. */
  runUntilIdle(limitMs = 1e9): number {
    for (;;) {
      const next = this.#nextDue(this.#now + limitMs);
      if (!next) return this.#now;
      this.#now = next.atMs;
      next.fn();
    }
  }

  /** Number of timers still pending. */
  get pending(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  #nextDue(limitMs: number): VirtualTimer | undefined {
    this.#timers = this.#timers.filter((t) => !t.cancelled);
    let best: VirtualTimer | undefined;
    for (const t of this.#timers) {
      if (t.atMs > limitMs) continue;
      if (!best || t.atMs < best.atMs || (t.atMs === best.atMs && t.seq < best.seq)) best = t;
    }
    if (best) best.cancelled = true;
    return best;
  }
}

/** Options of {@linkcode RealClock}. */
export interface RealClockOptions {
  /** Simulated ms per real ms: 10 replays a trace ten times faster. @default 1 */
  timeScale?: number;
}

/** Real time multiplied by a time scale, with `setTimeout` timers. */
export class RealClock implements Clock {
  readonly #origin = performance.now();
  readonly #scale: number;
  /** Real ms per simulated ms. */
  readonly realMsPerSimMs: number;

  /** @param options the time scale */
  constructor(options: RealClockOptions = {}) {
    const scale = options.timeScale ?? 1;
    if (!(scale > 0)) throw new RangeError("Time scale must be a positive number");
    this.#scale = scale;
    this.realMsPerSimMs = 1 / scale;
  }

  /** Simulated ms since the clock was made. */
  now(): number {
    return (performance.now() - this.#origin) * this.#scale;
  }

  /**
   * Schedules `fn` at simulated time `atMs`, never before it: the real delay is rounded up to
   * whole ms (timers are that coarse, and later by a ms or two on a busy event loop).
   */
  at(atMs: number, fn: () => void): ClockTimer {
    const delay = Math.max(0, Math.ceil((atMs - this.now()) / this.#scale));
    const id = setTimeout(fn, delay);
    return { cancel: () => clearTimeout(id) };
  }
}

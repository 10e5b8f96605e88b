/** Caps the requests in flight per replica; the rest wait their turn, first come first served. */
import { abortError } from "./connection.ts";

interface Waiter {
  resolve(): void;
  signal: AbortSignal;
  onAbort(): void;
}

interface Slots {
  active: number;
  waiters: Waiter[];
}

/** A counting semaphore per key (a replica's base URL), whose waiters queue FIFO and leave on abort. */
export class Limiter {
  #max: number;
  #slots = new Map<string, Slots>();

  /** @param max requests in flight per key */
  constructor(max: number) {
    this.#max = max;
  }

  /** Requests in flight and waiting for `key`. */
  usage(key: string): { active: number; waiting: number } {
    const slots = this.#slots.get(key);
    return { active: slots?.active ?? 0, waiting: slots?.waiters.length ?? 0 };
  }

  /** Resolves once `key` has a free slot; rejects with an AbortError when `signal` aborts first. */
  acquire(key: string, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(abortError(signal));
    let slots = this.#slots.get(key);
    if (!slots) this.#slots.set(key, slots = { active: 0, waiters: [] });
    if (slots.active < this.#max) {
      slots.active++;
      return Promise.resolve();
    }
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const queue = slots.waiters;
    const waiter: Waiter = {
      resolve,
      signal,
      onAbort() {
        queue.splice(queue.indexOf(waiter), 1);
        reject(abortError(signal));
      },
    };
    signal.addEventListener("abort", waiter.onAbort, { once: true });
    queue.push(waiter);
    return promise;
  }

  /** Frees a slot of `key`, handing it to the longest waiter. */
  release(key: string): void {
    const slots = this.#slots.get(key);
    if (!slots) return;
    const next = slots.waiters.shift();
    if (next) {
      next.signal.removeEventListener("abort", next.onAbort);
      next.resolve();
    } else if (--slots.active === 0) this.#slots.delete(key);
  }
}

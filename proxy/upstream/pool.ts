/** Idle keep-alive connections per origin, swept once idle too long and dropped as soon as the server closes one. */
import type { UpstreamConnection } from "./connection.ts";

/** Options of {@linkcode IdlePool}. */
export interface IdlePoolOptions {
  /** Idle connections kept per origin; more are closed when released. */
  maxIdlePerOrigin: number;
  /** An idle connection is closed after this long, below the servers' own keep-alive timeout, in ms. */
  idleTimeoutMs: number;
}

/**
 * The pool. Last in, first out, so that after a burst the connections used least age out; a
 * sweeper closes those idle past the timeout, and each parked connection's pending read drops
 * it the moment the server sends a byte or its FIN.
 */
export class IdlePool {
  #idle = new Map<string, UpstreamConnection[]>();
  #options: IdlePoolOptions;
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  /** @param options limits */
  constructor(options: IdlePoolOptions) {
    this.#options = options;
  }

  /** The most recently parked live connection of `origin`, taken out of the pool. */
  take(origin: string): UpstreamConnection | undefined {
    const list = this.#idle.get(origin);
    while (list && list.length > 0) {
      const connection = list.pop()!;
      if (connection.unpark()) return connection;
    }
    return undefined;
  }

  /** Parks `connection` for reuse, or closes it when the pool is full or closed. */
  put(origin: string, connection: UpstreamConnection): void {
    let list = this.#idle.get(origin);
    if (!list) this.#idle.set(origin, list = []);
    if (this.#closed || connection.closed || list.length >= this.#options.maxIdlePerOrigin) {
      connection.close();
      return;
    }
    list.push(connection);
    connection.park((lost) => {
      const at = list.indexOf(lost);
      if (at >= 0) list.splice(at, 1);
    });
    if (this.#sweeper === undefined) {
      this.#sweeper = setInterval(
        () => this.#sweep(),
        Math.max(10, this.#options.idleTimeoutMs / 2),
      );
      Deno.unrefTimer(this.#sweeper);
    }
  }

  /** Closes every idle connection and stops the sweeper; later puts close theirs. */
  close(): void {
    this.#closed = true;
    for (const list of this.#idle.values()) for (const c of list) c.close();
    this.#idle.clear();
    this.#stopSweeper();
  }

  #sweep(): void {
    const oldest = performance.now() - this.#options.idleTimeoutMs;
    let left = 0;
    for (const [origin, list] of this.#idle) {
      // Parked in order, so the expired ones are at the front.
      let expired = 0;
      while (expired < list.length && list[expired]!.idleSince <= oldest) {
        list[expired++]!.close();
      }
      list.splice(0, expired);
      left += list.length;
      // Replicas come and go (registrations on new ports): an origin with nothing idle is dropped.
      if (list.length === 0) this.#idle.delete(origin);
    }
    if (left === 0) this.#stopSweeper();
  }

  #stopSweeper(): void {
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }
}

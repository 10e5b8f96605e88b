/** One client's or one model's counts: requests and tokens over the last minute, requests in flight. */
import { SlidingWindow } from "./window.ts";

/** What a scope counts for: one client, or one model over all its clients. */
export type ScopeKind = "client" | "model";

/** What one client or one model used: here, and everywhere at the last sync. */
export class Scope {
  /** Whether it counts for a client or a model. */
  readonly kind: ScopeKind;
  /** The client id or the model name. */
  readonly id: string;
  /** Requests admitted over the last minute. */
  readonly requests: SlidingWindow = new SlidingWindow();
  /** Tokens charged over the last minute. */
  readonly tokens: SlidingWindow = new SlidingWindow();
  /** Requests in flight in this process. */
  inflight = 0;
  /** Requests in flight in the other gateway processes, as they wrote it at the last sync. */
  elsewhere = 0;
  /** The in-flight count this process last wrote to KV. */
  published = 0;

  /**
   * @param kind a client's or a model's
   * @param id the client id or the model name
   */
  constructor(kind: ScopeKind, id: string) {
    this.kind = kind;
    this.id = id;
  }

  /** Whether nothing counts in it and nothing waits to be written, so it may be dropped. */
  idle(now: number): boolean {
    return this.inflight === 0 && this.published === 0 && this.elsewhere === 0 &&
      this.requests.idle(now) && this.tokens.idle(now);
  }
}

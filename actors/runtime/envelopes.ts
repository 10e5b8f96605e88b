/** What sits in a mailbox besides plain tells: asks, durable deliveries and signals. */
import type { Signal, TimerId } from "./types.ts";

/** An ask waiting for its reply; settled once, by a reply, a failure or its timeout. */
export class AskEnvelope {
  /** The message asked. */
  readonly msg: unknown;
  #resolve: (value: unknown) => void;
  #reject: (error: Error) => void;
  #timer: TimerId | undefined;
  /** Whether it has been answered (or failed, or timed out). */
  settled = false;
  /** Whether the handler took over the reply with deferReply(). */
  deferred = false;

  /** Creates it. @param msg the message, @param resolve and @param reject settle the caller's promise */
  constructor(msg: unknown, resolve: (value: unknown) => void, reject: (error: Error) => void) {
    this.msg = msg;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  /** Arms the timeout that fails the ask with `error()` unless it is settled first. */
  arm(timeoutMs: number, error: () => Error): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.settle(error());
    }, timeoutMs);
  }

  /** Answers with a value, or fails with an Error. */
  settle(value: unknown): void {
    if (this.settled) return;
    this.settled = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (value instanceof Error) this.#reject(value);
    else this.#resolve(value);
  }
}

/** A durable message handed over by the transport; settling it acknowledges or retries it. */
export class DurableDelivery {
  /** The message id that deduplicates redeliveries. */
  readonly id: string;
  /** The validated message. */
  readonly msg: unknown;
  readonly #done: (error?: Error) => void;

  /** Creates it. @param id message id, @param msg the message, @param done called once with no error to ack */
  constructor(id: string, msg: unknown, done: (error?: Error) => void) {
    this.id = id;
    this.msg = msg;
    this.#done = done;
  }

  /** Acknowledges it (no error) or hands it back for a retry. */
  finish(error?: Error): void {
    this.#done(error);
  }
}

/** A runtime signal in the mailbox. */
export class SignalEnvelope {
  /** The signal. */
  readonly signal: Signal;
  /** Creates it. @param signal the signal to deliver in order */
  constructor(signal: Signal) {
    this.signal = signal;
  }
}

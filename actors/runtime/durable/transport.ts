/** The seam between the runtime and how durable messages travel (a KV queue today). */
import type { DurableEnvelope } from "./envelope.ts";

/** How one message is sent. */
export interface SendOptions {
  /** Deliver no earlier than this, in ms from now. */
  delayMs: number;
  /** Where KV writes the message if every retry fails. */
  deadLetterKey: Deno.KvKey;
}

/** Called for each arriving message; resolve to acknowledge, reject to have it retried. */
export type DeliverFn = (raw: unknown) => Promise<void>;

/**
 * A durable transport. `addToAtomic` lets a message ride in the same atomic operation as a
 * state change (a transactional outbox); the KV-queue form uses `enqueue`, a key-outbox form
 * (for KV Connect, which has no queues) would write an outbox key that a poller claims.
 */
export interface DurableTransport {
  /** Starts receiving; call once per process. */
  listen(deliver: DeliverFn): void;
  /** Adds the send to an atomic operation that the caller commits. */
  addToAtomic(op: Deno.AtomicOperation, envelope: DurableEnvelope, options: SendOptions): void;
  /** Sends on its own. */
  send(envelope: DurableEnvelope, options: SendOptions): Promise<void>;
  /** Resolves once listening has ended (after the KV handle closed). */
  closed(): Promise<void>;
}

/** KV handles that already have a queue listener (a second listener would get nothing). */
const listening = new WeakSet<Deno.Kv>();

/** The KV-queue transport: `enqueue` with `delay`, `backoffSchedule` and `keysIfUndelivered`. */
export class KvQueueTransport implements DurableTransport {
  readonly #kv: Deno.Kv;
  readonly #retryScheduleMs: number[];
  #listening: Promise<void> | undefined;

  /** Creates it. @param kv a local KV file, @param retryScheduleMs the delays between redeliveries */
  constructor(kv: Deno.Kv, retryScheduleMs: number[]) {
    this.#kv = kv;
    this.#retryScheduleMs = retryScheduleMs;
  }

  /** Starts the process's single queue listener. */
  listen(deliver: DeliverFn): void {
    if (this.#listening || listening.has(this.#kv)) {
      throw new Error(
        "This KV handle already has a queue listener: start one actor system per KV handle",
      );
    }
    listening.add(this.#kv);
    this.#listening = this.#kv.listenQueue(deliver);
  }

  /** Enqueues within the caller's atomic operation. */
  addToAtomic(op: Deno.AtomicOperation, envelope: DurableEnvelope, options: SendOptions): void {
    op.enqueue(envelope, this.#enqueueOptions(options));
  }

  /** Enqueues on its own. */
  async send(envelope: DurableEnvelope, options: SendOptions): Promise<void> {
    await this.#kv.enqueue(envelope, this.#enqueueOptions(options));
  }

  /** Resolves when the listener ended. */
  closed(): Promise<void> {
    return this.#listening ?? Promise.resolve();
  }

  #enqueueOptions(options: SendOptions) {
    return {
      delay: Math.max(0, Math.round(options.delayMs)),
      keysIfUndelivered: [options.deadLetterKey],
      backoffSchedule: this.#retryScheduleMs,
    };
  }
}

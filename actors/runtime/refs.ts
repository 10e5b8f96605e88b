/** In-process actor refs: a cached cell lookup in front of the mailbox. */
import type { Address } from "./address.ts";
import type { Cell } from "./cell.ts";
import { AskEnvelope } from "./envelopes.ts";
import { ActorStoppedError, AskTimeoutError } from "./errors.ts";
import type { ActorRef, AskOptions } from "./types.ts";

/** Default ask timeout, in ms. */
export const DEFAULT_ASK_TIMEOUT_MS = 5_000;

/** Finds the live cell at an address. */
export type CellLookup = (addr: Address) => Cell | undefined;

/** A ref that resolves its cell lazily and again after the cell stopped. */
export class LocalRef<M> implements ActorRef<M> {
  readonly address: Address;
  readonly #lookup: CellLookup;
  readonly #onUndelivered: (addr: Address, msg: unknown) => void;
  #cell: Cell | undefined;

  /** Creates it. @param addr the address, @param lookup finds its cell, @param onUndelivered counts lost tells */
  constructor(
    addr: Address,
    lookup: CellLookup,
    onUndelivered: (addr: Address, msg: unknown) => void,
    cell?: Cell,
  ) {
    this.address = addr;
    this.#lookup = lookup;
    this.#onUndelivered = onUndelivered;
    this.#cell = cell;
  }

  #resolve(): Cell | undefined {
    let cell = this.#cell;
    if (cell === undefined || cell.stopped) {
      cell = this.#lookup(this.address);
      this.#cell = cell;
    }
    return cell;
  }

  /** Fire-and-forget. */
  tell(msg: M): void {
    const cell = this.#resolve();
    if (cell) cell.enqueue(msg);
    else this.#onUndelivered(this.address, msg);
  }

  /** Request-reply with a timeout. */
  ask<R>(msg: M, options?: AskOptions): Promise<R> {
    const cell = this.#resolve();
    if (!cell) return Promise.reject(new ActorStoppedError(this.address));
    return new Promise<R>((resolve, reject) => {
      const envelope = new AskEnvelope(msg, resolve as (v: unknown) => void, reject);
      const timeoutMs = options?.timeoutMs ?? DEFAULT_ASK_TIMEOUT_MS;
      envelope.arm(timeoutMs, () => new AskTimeoutError(this.address, timeoutMs));
      cell.enqueue(envelope);
    });
  }
}

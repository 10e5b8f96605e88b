/** Typed errors of the actor runtime, so callers can tell a timeout from a crash. */
import type { Address } from "./address.ts";

/** An ask got no reply within its timeout. */
export class AskTimeoutError extends Error {
  /** The actor that was asked. */
  readonly address: Address;
  /** The timeout that ran out, in ms. */
  readonly timeoutMs: number;
  /** Builds the error. @param addr the actor asked, @param timeoutMs the timeout that ran out */
  constructor(addr: Address, timeoutMs: number) {
    super(
      `Ask to ${addr} got no reply within ${timeoutMs} ms: raise timeoutMs or check that it replies`,
    );
    this.name = "AskTimeoutError";
    this.address = addr;
    this.timeoutMs = timeoutMs;
  }
}

/** The actor handled an ask but neither replied nor deferred its reply. */
export class AskNotAnsweredError extends Error {
  /** Builds the error. @param addr the actor asked, @param type the message's type */
  constructor(addr: Address, type: string) {
    super(
      `Actor ${addr} handled "${type}" without replying: call ctx.reply() or ctx.deferReply()`,
    );
    this.name = "AskNotAnsweredError";
  }
}

/** No actor lives at the address, or it stopped before handling the message. */
export class ActorStoppedError extends Error {
  /** Builds the error. @param addr the address that has no running actor */
  constructor(addr: Address) {
    super(`Actor ${addr} is not running: spawn it first or check that it has not stopped`);
    this.name = "ActorStoppedError";
  }
}

/** The handler threw while handling an ask; `cause` is what it threw. */
export class ActorFailedError extends Error {
  /** Builds the error. @param addr the failed actor, @param cause what its handler threw */
  constructor(addr: Address, cause: unknown) {
    super(`Actor ${addr} failed while handling the message: ${describeError(cause)}`, { cause });
    this.name = "ActorFailedError";
  }
}

/** A supervisor exceeded its restart intensity and gave up; its parent decides what follows. */
export class EscalationError extends Error {
  /** Builds the error. @param addr the supervisor that gave up, @param detail why */
  constructor(addr: Address, detail: string, cause?: unknown) {
    super(`Supervisor ${addr} gave up: ${detail}`, { cause });
    this.name = "EscalationError";
  }
}

/** Another process holds the actor's lease, so this process must not write its state. */
export class LeaseLostError extends Error {
  /** Builds the error. @param addr the actor whose lease is held elsewhere */
  constructor(addr: Address) {
    super(`Lease of ${addr} is held by another process: let that process handle the actor`);
    this.name = "LeaseLostError";
  }
}

/** A one-line description of anything thrown. */
export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

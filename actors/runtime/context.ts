/** The context a handler gets: replies, sends, timers, children, stop and snapshot requests. */
import type { Address } from "./address.ts";
import type { Cell } from "./cell.ts";
import type { CellHost, OutboxItem } from "./cell_host.ts";
import { AskEnvelope, DurableDelivery } from "./envelopes.ts";
import type {
  ActorContext,
  AskOptions,
  Cancellable,
  Message,
  SpawnOptions,
  TimerId,
} from "./types.ts";

/** What the current turn of a cell has asked for, shared by the cell and its context. */
export class TurnState {
  /** The ask or durable delivery being handled. */
  current: AskEnvelope | DurableDelivery | undefined;
  /** Durable sends held back until the durable turn commits. */
  outbox: OutboxItem[] | undefined;
  /** ctx.stop() on self: stop after this message. */
  stopRequested = false;
  /** ctx.snapshot(): persist after this message. */
  snapshotRequested = false;
  /** Local timers, cleared when the actor stops or restarts. */
  readonly timers = new Set<TimerId>();
}

/** A random message id. */
export function newId(): string {
  return crypto.randomUUID();
}

/** Builds the context object a cell hands to its behaviour. */
export function makeContext(cell: Cell, host: CellHost, turn: TurnState): ActorContext<Message> {
  return {
    self: cell.address,
    system: host.system,
    get messageId() {
      const current = turn.current;
      return current instanceof DurableDelivery ? current.id : undefined;
    },
    reply(value) {
      const current = turn.current;
      if (current instanceof AskEnvelope) current.settle(value);
    },
    deferReply() {
      const current = turn.current;
      if (!(current instanceof AskEnvelope)) return () => {};
      current.deferred = true;
      return (value) => current.settle(value);
    },
    tell(to, msg) {
      host.tell(to, msg);
    },
    ask<R>(to: Address, msg: unknown, options?: AskOptions) {
      return host.ref(to).ask<R>(msg, options);
    },
    tellDurable(to, msg, options = {}) {
      const durable = host.durable;
      if (!durable) throw new Error("Durable tell needs a KV store: start the system with kv");
      const item: OutboxItem = { to, msg, options: { ...options, id: options.id ?? newId() } };
      if (turn.outbox) turn.outbox.push(item);
      else void durable.send(item).catch((e) => host.reportError(`tellDurable to ${to}`, e));
    },
    schedule(delayMs, msg, options): Cancellable {
      if (options?.durable) {
        const id = newId();
        this.tellDurable(cell.address, msg, { delayMs, id });
        return { cancel: () => host.system.cancelDurable(cell.address, id) };
      }
      const timer = host.setTimer(() => {
        turn.timers.delete(timer);
        cell.enqueue(msg);
      }, delayMs);
      turn.timers.add(timer);
      return {
        cancel() {
          turn.timers.delete(timer);
          host.clearTimer(timer);
        },
      };
    },
    spawn(behavior, id, options?: SpawnOptions) {
      return host.spawnChild(cell, behavior, id, options);
    },
    stop(addr) {
      if (addr === undefined || addr === cell.address) {
        turn.stopRequested = true;
        return;
      }
      host.stopChild(cell, addr);
    },
    snapshot() {
      turn.snapshotRequested = true;
    },
  };
}

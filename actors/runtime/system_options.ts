/** The options of an actor system, its shutdown, and the dead-letter record it reads back. */
import type { Address } from "./address.ts";
import type { AnyBehavior, SupervisionOptions } from "./types.ts";
import type { FaultHooks } from "./durable/host.ts";
import type { DurableTransport } from "./durable/transport.ts";

/** Options of {@linkcode ActorSystem.start}. */
export interface ActorSystemOptions {
  /** Opens (and owns, and closes) a KV file for durable messaging and snapshots. */
  kvPath?: string;
  /** Uses a KV handle the caller owns (the system never closes it). */
  kv?: Deno.Kv;
  /** Durable kinds: they receive durable messages, and their persisted actors are rehydrated. */
  behaviors?: AnyBehavior[];
  /** Rehydrate persisted actors of `behaviors` on start. @default true */
  rehydrate?: boolean;
  /**
   * Rehydrate and take durable messages on start; `false` leaves it to
   * {@linkcode ActorSystem.listen}, for kinds registered after start. @default true
   */
  listen?: boolean;
  /** This node's name in leases; a restarted process with the same name retakes its leases. */
  nodeId?: string;
  /** Lease length without a commit, in ms. @default 30000 */
  leaseTtlMs?: number;
  /** Redelivery delays of a failing durable message before it becomes a dead letter. */
  retryScheduleMs?: number[];
  /** How long dedupe records are kept, in ms. @default 604800000 (7 days) */
  dedupeTtlMs?: number;
  /** Delay before a message for an actor leased elsewhere is offered again, in ms. @default 500 */
  forwardDelayMs?: number;
  /** Supervision of top-level actors. @default { intensity: 10, periodMs: 10000 } */
  root?: SupervisionOptions;
  /** Called when the root supervisor gives up; by default logs, shuts down and exits with 1. */
  onRootFailure?: (error: Error) => void;
  /** Called for errors that have no caller to go to; by default logs to stderr. */
  onError?: (where: string, error: unknown) => void;
  /**
   * How durable messages travel; by default the KV queue of `kv` (a key-outbox transport can
   * stand in where the KV has no queues, as with KV Connect).
   */
  transport?: DurableTransport;
  /** Crash-test hooks around durable commits. */
  faults?: FaultHooks;
  /**
   * When to sweep for messages orphaned by a crashed process, in ms after start (only with
   * `kvPath`). Deno KV requeues a dead process's in-flight messages only when a handle opens
   * (or every 60 s), once their 5 s deadline passed; a sweep opens a throwaway handle and wakes
   * the listener, so a restarted process recovers them in seconds. @default [2500, 5000, 8000]
   */
  recoverySweepsMs?: number[];
}

/** Options of {@linkcode ActorSystem.shutdown}. */
export interface ShutdownOptions {
  /** How long to let mailboxes drain before stopping everything, in ms. @default 5000 */
  deadlineMs?: number;
}

/** A dead-letter record: a durable message whose retries ran out. */
export interface DeadLetter {
  /** The actor it was for. */
  to: Address;
  /** Its message id. */
  id: string;
  /** The message. */
  msg: unknown;
  /** When it was first sent, in ms since the epoch. */
  sentAtMs: number;
}

/** Redelivery delays of a failing durable message, in ms, when `retryScheduleMs` is not given. */
export const DEFAULT_RETRY_SCHEDULE_MS: readonly number[] = [100, 1_000, 5_000, 30_000, 60_000];

/**
 * Checks a redelivery schedule against what Deno KV's `backoffSchedule` takes (at most 5
 * non-negative delays) and returns it.
 */
export function checkRetrySchedule(retries: readonly number[]): number[] {
  if (retries.length > 5 || retries.some((ms) => !(ms >= 0))) {
    throw new RangeError(
      `retryScheduleMs has ${retries.length} delays; Deno KV takes at most 5 non-negative ones: shorten it`,
    );
  }
  return [...retries];
}

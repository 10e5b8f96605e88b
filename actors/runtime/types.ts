/** The shapes an actor author writes against: behaviours, contexts, refs and spawn options. */
import type { z } from "zod";
import type { Address } from "./address.ts";
import type { ActorSystem } from "./system.ts";

/** Every actor message is a tagged object. */
export interface Message {
  /** The tag that the behaviour switches on. */
  type: string;
}

/** Handle on an actor: send it messages without knowing where it lives. */
export interface ActorRef<M> {
  /** The actor's address. */
  readonly address: Address;
  /** Fire-and-forget, in-process. */
  tell(msg: M): void;
  /** Request-reply, in-process; rejects with AskTimeoutError after `timeoutMs` (default 5,000). */
  ask<R>(msg: M, options?: AskOptions): Promise<R>;
}

/** Options of {@linkcode ActorRef.ask}. */
export interface AskOptions {
  /** How long to wait for the reply, in ms. @default 5000 */
  timeoutMs?: number;
}

/** Options of a durable tell. */
export interface DurableTellOptions {
  /** Deliver no earlier than this many ms from now (a durable timer). @default 0 */
  delayMs?: number;
  /** The message id that deduplicates redeliveries; a random one when absent. */
  id?: string;
}

/** A timer that can be cancelled before it fires. */
export interface Cancellable {
  /** Stops the timer; a no-op once it fired. */
  cancel(): void;
}

/** What a handler may do besides computing the next state. */
export interface ActorContext<M> {
  /** The actor's own address. */
  readonly self: Address;
  /** The system it runs in. */
  readonly system: ActorSystem;
  /** The id of the durable message being handled, undefined for an in-process one. */
  readonly messageId: string | undefined;
  /** Answers the ask being handled (a no-op for a tell). */
  reply(value: unknown): void;
  /** Takes over the reply of the ask being handled, to answer it later (a value or an Error). */
  deferReply(): (value: unknown) => void;
  /** Fire-and-forget to another actor, in-process. */
  tell(to: Address, msg: unknown): void;
  /** Request-reply to another actor, in-process. */
  ask<R>(to: Address, msg: unknown, options?: AskOptions): Promise<R>;
  /**
   * Durable fire-and-forget through Deno KV; inside a durable turn it is committed in the same
   * atomic operation as the state change, so it is sent once per committed turn.
   */
  tellDurable(to: Address, msg: unknown, options?: DurableTellOptions): void;
  /** Sends `msg` to self after `delayMs`; `durable` makes it a KV timer that survives a crash. */
  schedule(delayMs: number, msg: M, options?: { durable?: boolean }): Cancellable;
  /** Starts a child supervised by this actor. */
  spawn<S2, M2 extends Message>(
    behavior: Behavior<S2, M2>,
    id: string,
    options?: SpawnOptions,
  ): ActorRef<M2>;
  /** Stops a child, or this actor when `addr` is omitted (after the current message). */
  stop(addr?: Address): void;
  /** Asks the runtime to persist this actor's state when the current message is done. */
  snapshot(): void;
}

/** How a supervisor treats a child that exits. */
export type RestartType = "permanent" | "transient" | "temporary";

/** Which children a supervisor restarts when one fails. */
export type RestartStrategy = "one_for_one" | "one_for_all" | "rest_for_one";

/** Exponential backoff between restarts: `minMs * 2^n`, capped, times `1 + random * randomFactor`. */
export interface BackoffOptions {
  /** First delay, in ms. @default 100 */
  minMs?: number;
  /** Largest delay, in ms. @default 10000 */
  maxMs?: number;
  /** Jitter as a fraction of the delay. @default 0.2 */
  randomFactor?: number;
}

/** How a parent supervises its children. */
export interface SupervisionOptions {
  /** Which children restart when one fails. @default "one_for_one" */
  strategy?: RestartStrategy;
  /** More than this many restarts within `periodMs` and the supervisor gives up. @default 3 */
  intensity?: number;
  /** The window for `intensity`, in ms. @default 5000 */
  periodMs?: number;
}

/** Options of spawn: how the parent treats this child. */
export interface SpawnOptions {
  /** When the parent restarts this child. @default "permanent" */
  restart?: RestartType;
  /** Backoff between this child's restarts. */
  backoff?: BackoffOptions;
}

/** The signal a parent receives when one of its children fails. */
export interface ChildFailed {
  /** The tag. */
  type: "ChildFailed";
  /** The child that failed. */
  child: Address;
  /** What it threw, as one line. */
  error: string;
  /** Whether the parent's supervision restarts it. */
  restarting: boolean;
}

/** Signals the runtime delivers to an actor through its mailbox, in order with its messages. */
export type Signal = ChildFailed;

/**
 * Persistence settings of a durable actor kind. Its state is stored as JSON (so keep it to
 * plain objects, arrays, strings, numbers, booleans and null) and parsed back with `state`.
 */
export interface PersistenceOptions<S, M> {
  /** Parses a snapshot read back from KV. */
  state: z.ZodType<S>;
  /** Parses a durable message read from the KV queue. */
  messages: z.ZodType<M>;
}

/** An actor kind: how to start one and how it handles a message. */
export interface Behavior<S, M extends Message> {
  /** The kind, the first part of every address of this behaviour. */
  kind: string;
  /** The initial state (not called when a snapshot exists). */
  init(id: string, ctx: ActorContext<M>): S | Promise<S>;
  /** The next state after one message; the runtime never runs two at once for one actor. */
  receive(state: S, msg: M, ctx: ActorContext<M>): S | Promise<S>;
  /** Handles a runtime signal such as ChildFailed; ignored when absent. */
  onSignal?(state: S, signal: Signal, ctx: ActorContext<M>): S | Promise<S>;
  /** Runs when the actor stops or before it restarts. */
  onStop?(state: S, ctx: ActorContext<M>): void | Promise<void>;
  /** How this actor supervises the children it spawns. */
  supervision?: SupervisionOptions;
  /** Makes the kind durable: snapshots in KV, zod-validated durable messages, rehydration. */
  persistence?: PersistenceOptions<S, M>;
}

/** A timer handle as setTimeout returns it. */
export type TimerId = ReturnType<typeof setTimeout>;

/** A behaviour of any state and message types, for lists of kinds. */
// deno-lint-ignore no-explicit-any
export type AnyBehavior = Behavior<any, any>;

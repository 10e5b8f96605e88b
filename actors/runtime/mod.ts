/**
 * The actor runtime: addresses, behaviours, local and durable messaging, supervision.
 *
 * @example
 * ```ts
 * type CounterMsg = { type: "add"; n: number } | { type: "get" };
 * const counter: Behavior<number, CounterMsg> = {
 *   kind: "counter",
 *   init: () => 0,
 *   receive(count, msg, ctx) {
 *     if (msg.type === "add") return count + msg.n;
 *     ctx.reply(count);
 *     return count;
 *   },
 * };
 * const system = await ActorSystem.start({ kvPath: "state.kv" });
 * const ref = system.spawn(counter, "a");
 * ref.tell({ type: "add", n: 2 });
 * console.log(await ref.ask<number>({ type: "get" })); // 2
 * await system.shutdown();
 * ```
 */
export { type Address, address, parseAddress } from "./address.ts";
export type {
  ActorContext,
  ActorRef,
  AnyBehavior,
  AskOptions,
  BackoffOptions,
  Behavior,
  Cancellable,
  ChildFailed,
  DurableTellOptions,
  Message,
  PersistenceOptions,
  RestartStrategy,
  RestartType,
  Signal,
  SpawnOptions,
  SupervisionOptions,
  TimerId,
} from "./types.ts";
export {
  ActorFailedError,
  ActorStoppedError,
  AskNotAnsweredError,
  AskTimeoutError,
  EscalationError,
  LeaseLostError,
} from "./errors.ts";
export { ActorSystem, type SupervisionNode } from "./system.ts";
export type { RestartTally, SupervisedEntry } from "./supervision.ts";
export type { ActorSystemOptions, DeadLetter, ShutdownOptions } from "./system_options.ts";
export {
  type ChildSpec,
  supervisor,
  type SupervisorMessage,
  type SupervisorSpec,
  type SupervisorState,
} from "./supervisor.ts";
export {
  installShutdownHandlers,
  type ShutdownHandlerOptions,
  type ShutdownHandlers,
  type Stoppable,
} from "./graceful.ts";
export { backoffDelayMs, resolveBackoff, type ResolvedBackoff, RestartWindow } from "./backoff.ts";
export type { FaultHooks } from "./durable/host.ts";
export type { DeliverFn, DurableTransport, SendOptions } from "./durable/transport.ts";
export type { DurableEnvelope } from "./durable/envelope.ts";
export { readSnapshot } from "./durable/snapshot.ts";
export { DEAD_LETTER_PREFIX, leaseKey } from "./durable/keys.ts";
export { isKvBusy, retryKvBusy, type RetryKvBusyOptions } from "./kv_busy.ts";
export { Repeating, type RepeatingOptions } from "./repeating.ts";
export {
  errorField,
  isLogLevel,
  LOG_LEVELS,
  type LogFields,
  Logger,
  logger,
  type LoggerOptions,
  type LogLevel,
} from "./log.ts";

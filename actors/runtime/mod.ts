/** The actor runtime: addresses, behaviours, local and durable messaging, supervision. */
export { type Address, address, parseAddress } from "./address.ts";
export type {
  ActorContext,
  ActorRef,
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
export {
  ActorSystem,
  type ActorSystemOptions,
  type DeadLetter,
  type ShutdownOptions,
} from "./system.ts";
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
} from "./graceful.ts";
export { backoffDelayMs, resolveBackoff, type ResolvedBackoff, RestartWindow } from "./backoff.ts";
export type { FaultHooks } from "./durable/host.ts";
export type { DeliverFn, DurableTransport, SendOptions } from "./durable/transport.ts";

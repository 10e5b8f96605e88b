/** A supervisor behaviour: starts ordered child specs and restarts them by its strategy. */
import type { Address } from "./address.ts";
import type {
  AnyBehavior,
  BackoffOptions,
  Behavior,
  Message,
  RestartType,
  Signal,
  SupervisionOptions,
} from "./types.ts";

/** One child of a supervisor, in start order. */
export interface ChildSpec {
  /** What the child runs. */
  behavior: AnyBehavior;
  /** The child's id (its address is `behavior.kind/id`). */
  id: string;
  /** When the supervisor restarts it. @default "permanent" */
  restart?: RestartType;
  /** Backoff between this child's restarts. */
  backoff?: BackoffOptions;
}

/** What a supervisor is made of. */
export interface SupervisorSpec extends SupervisionOptions {
  /** Its kind. @default "supervisor" */
  kind?: string;
  /** Children, started in this order and stopped in reverse. */
  children: ChildSpec[];
  /** Called with every ChildFailed signal (for logs and metrics). */
  onChildFailed?(signal: Signal): void;
}

/** Messages a supervisor answers. */
export type SupervisorMessage = { type: "which_children" };

/** A supervisor's state: the signals it received, newest last (bounded). */
export interface SupervisorState {
  /** The last 100 ChildFailed signals. */
  failures: Signal[];
}

/**
 * Builds a supervisor behaviour; spawn it like any actor. `ask({type: "which_children"})`
 * answers the children's addresses in start order.
 */
export function supervisor(spec: SupervisorSpec): Behavior<SupervisorState, SupervisorMessage> {
  const { children, kind, onChildFailed, ...supervision } = spec;
  return {
    kind: kind ?? "supervisor",
    supervision,
    init(_id, ctx) {
      for (const child of children) {
        const options: { restart?: RestartType; backoff?: BackoffOptions } = {};
        if (child.restart) options.restart = child.restart;
        if (child.backoff) options.backoff = child.backoff;
        ctx.spawn(child.behavior as Behavior<unknown, Message>, child.id, options);
      }
      return { failures: [] };
    },
    receive(state, msg, ctx) {
      if (msg.type === "which_children") {
        ctx.reply(ctx.system.childrenOf(ctx.self) satisfies Address[]);
      }
      return state;
    },
    onSignal(state, signal) {
      onChildFailed?.(signal);
      return { failures: [...state.failures.slice(-99), signal] };
    },
  };
}

/** RouterActor: one per model; supervises its BackendActors, holds the routing view they report into, expires registrations. */
import { address } from "../runtime/mod.ts";
import type { ActorRef, Behavior, Cancellable } from "../runtime/mod.ts";
import {
  BACKEND_KIND,
  backendBehavior,
  type BackendMessage,
  type BackendReportMessage,
} from "../backend/backend_actor.ts";
import type {
  BackendReport,
  BackendSource,
  BackendStateOptions,
} from "../backend/backend_state.ts";
import type { ModelRouter } from "./model_router.ts";
import type { BackendView, RequestFeatures } from "./strategies/types.ts";

/** The actor kind of every RouterActor. */
export const ROUTER_KIND = "router";

/** A backend to add (or, when it is already there with the same URL, to refresh). */
export interface AddBackend {
  type: "add";
  id: string;
  url: string;
  source: BackendSource;
  /** Registrations only: the backend is dropped after this long without a heartbeat, in ms. */
  ttlMs?: number;
}

/** Messages a RouterActor handles. */
export type RouterMessage =
  | BackendReportMessage
  | AddBackend
  | { type: "heartbeat"; id: string }
  | { type: "remove"; id: string }
  | { type: "sweep" }
  | { type: "pick"; features: RequestFeatures; exclude?: ReadonlySet<string> }
  | { type: "members" };

/** One backend the router supervises. */
export interface Member {
  id: string;
  url: string;
  source: BackendSource;
  address: string;
  ttlMs: number | undefined;
  expiresAtMs: number | undefined;
}

/** A member with its last report, as `members` answers. */
export interface MemberStatus extends Member {
  report: BackendReport | undefined;
}

/** What `add` answers. */
export interface AddResult {
  id: string;
  /** False when the backend was already there (the add was a heartbeat). */
  created: boolean;
  expiresAtMs: number | undefined;
}

/** Settings of a RouterActor. */
export interface RouterActorOptions extends BackendStateOptions {
  /** The model. */
  model: string;
  /** The routing view, shared with the hot path (which picks from it synchronously). */
  router: ModelRouter;
  /** The BackendActors' refs by backend id, shared with the hot path (which tells them of requests). */
  backendRefs: Map<string, ActorRef<BackendMessage>>;
  /** Time between health probes, in ms. */
  healthIntervalMs: number;
  /** Time between `/metrics` scrapes, in ms. */
  scrapeIntervalMs: number;
  /** Clock in ms since the epoch. @default Date.now */
  now?: () => number;
}

/** A RouterActor's state. */
export interface RouterActorState {
  members: Map<string, Member>;
  sweep: Cancellable | undefined;
}

/** The address of the RouterActor of `model`. */
export function routerAddress(model: string): string {
  return address(ROUTER_KIND, model);
}

/** The behaviour of the RouterActor of one model. */
export function routerBehavior(
  options: RouterActorOptions,
): Behavior<RouterActorState, RouterMessage> {
  const now = options.now ?? Date.now;
  const self = routerAddress(options.model);
  return {
    kind: ROUTER_KIND,
    supervision: { strategy: "one_for_one", intensity: 10, periodMs: 10_000 },
    init() {
      return { members: new Map(), sweep: undefined };
    },
    receive(state, msg, ctx) {
      switch (msg.type) {
        case "report": {
          if (state.members.has(msg.report.id)) options.router.report(msg.report);
          return state;
        }
        case "add": {
          const known = state.members.get(msg.id);
          const expiresAtMs = msg.ttlMs === undefined ? undefined : now() + msg.ttlMs;
          if (known && known.url === msg.url.replace(/\/+$/, "")) {
            known.ttlMs = msg.ttlMs;
            known.expiresAtMs = expiresAtMs;
            ctx.reply({ id: msg.id, created: false, expiresAtMs } satisfies AddResult);
            return state;
          }
          if (known) stopMember(state, known, ctx.stop, options);
          const ref = ctx.spawn(
            backendBehavior({
              ...options,
              backendId: msg.id,
              url: msg.url,
              source: msg.source,
              router: self,
              ...(options.now ? { now: options.now } : {}),
            }),
            `${options.model}/${msg.id}`,
            { restart: "permanent", backoff: { minMs: 100, maxMs: 5_000 } },
          );
          options.backendRefs.set(msg.id, ref);
          state.members.set(msg.id, {
            id: msg.id,
            url: msg.url.replace(/\/+$/, ""),
            source: msg.source,
            address: ref.address,
            ttlMs: msg.ttlMs,
            expiresAtMs,
          });
          if (msg.ttlMs !== undefined) scheduleSweep(state, ctx.schedule.bind(ctx), msg.ttlMs);
          ctx.reply({ id: msg.id, created: true, expiresAtMs } satisfies AddResult);
          return state;
        }
        case "heartbeat": {
          const known = state.members.get(msg.id);
          if (known?.ttlMs !== undefined) known.expiresAtMs = now() + known.ttlMs;
          ctx.reply(
            known
              ? { id: known.id, created: false, expiresAtMs: known.expiresAtMs } satisfies AddResult
              : undefined,
          );
          return state;
        }
        case "remove": {
          const known = state.members.get(msg.id);
          if (known) stopMember(state, known, ctx.stop, options);
          ctx.reply(known !== undefined);
          return state;
        }
        case "sweep": {
          state.sweep = undefined;
          const t = now();
          let shortestTtl: number | undefined;
          for (const member of [...state.members.values()]) {
            if (member.expiresAtMs === undefined || member.ttlMs === undefined) continue;
            if (member.expiresAtMs <= t) {
              console.warn(
                `Backend ${member.id} of model ${options.model} expired: no heartbeat for ${member.ttlMs} ms`,
              );
              stopMember(state, member, ctx.stop, options);
            } else {
              shortestTtl = Math.min(shortestTtl ?? Infinity, member.ttlMs);
            }
          }
          if (shortestTtl !== undefined) scheduleSweep(state, ctx.schedule.bind(ctx), shortestTtl);
          return state;
        }
        case "pick": {
          const chosen: BackendView | undefined = options.router.pick(msg.features, msg.exclude);
          ctx.reply(chosen);
          return state;
        }
        case "members": {
          const list: MemberStatus[] = [...state.members.values()].map((m) => ({
            ...m,
            report: options.router.get(m.id)?.report,
          }));
          ctx.reply(list);
          return state;
        }
      }
    },
    onSignal(state, signal) {
      console.error(
        `Backend actor ${signal.child} of model ${options.model} failed: ${signal.error}${
          signal.restarting ? " (restarting)" : ""
        }`,
      );
      return state;
    },
    onStop(state) {
      state.sweep?.cancel();
      state.sweep = undefined;
    },
  };
}

function stopMember(
  state: RouterActorState,
  member: Member,
  stop: (addr?: string) => void,
  options: RouterActorOptions,
): void {
  state.members.delete(member.id);
  options.backendRefs.delete(member.id);
  options.router.remove(member.id);
  stop(member.address);
}

function scheduleSweep(
  state: RouterActorState,
  schedule: (delayMs: number, msg: RouterMessage) => Cancellable,
  ttlMs: number,
): void {
  if (state.sweep) return;
  const every = Math.min(5_000, Math.max(50, Math.floor(ttlMs / 4)));
  state.sweep = schedule(every, { type: "sweep" });
}

/** The address of the BackendActor of `backendId` serving `model`. */
export function backendAddress(model: string, backendId: string): string {
  return address(BACKEND_KIND, `${model}/${backendId}`);
}

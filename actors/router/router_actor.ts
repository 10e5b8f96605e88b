/** RouterActor: one per model; the only writer of the model's routing table, it supervises its BackendActors and expires registrations. */
import { logger } from "../runtime/log.ts";
import { type Address, address } from "../runtime/mod.ts";
import type { ActorContext, Behavior, Cancellable } from "../runtime/mod.ts";
import {
  backendBehavior,
  type BackendReportMessage,
  type BackendSource,
  type BackendStateOptions,
} from "../backend/mod.ts";
import type { ModelRouter } from "./model_router.ts";
import { type BackendLink, type Member, RoutingTable } from "./routing_table.ts";
import type { BackendView, CacheReport, RequestFeatures } from "./strategies/mod.ts";

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
  | CacheReportMessage;

/** What a replica reported of a request it answered, for the strategies' estimates (told, never asked). */
export interface CacheReportMessage {
  type: "cache_report";
  backendId: string;
  /** The request's features, as the pick saw them. */
  features: RequestFeatures;
  report: CacheReport;
}

/** What `add` and `heartbeat` answer. */
export interface AddResult {
  id: string;
  /** False when the backend was already there with this URL (the add was a heartbeat). */
  created: boolean;
  expiresAtMs: number | undefined;
}

/** Settings of a RouterActor. */
export interface RouterActorOptions extends BackendStateOptions {
  /** The model. */
  model: string;
  /**
   * The hot path's handle, which the actor publishes every new table to. It outlives the
   * actor's restarts: `init` rebuilds the members of the table last published there.
   */
  router: ModelRouter;
  /** Time between health probes, in ms. */
  healthIntervalMs: number;
  /** Time between `/metrics` scrapes, in ms. */
  scrapeIntervalMs: number;
  /** Clock in ms since the epoch. @default Date.now */
  now?: () => number;
}

/** A RouterActor's state: the table it last published, and its expiry sweep. */
export interface RouterActorState {
  table: RoutingTable;
  sweep: Cancellable | undefined;
  /** The interval the scheduled sweep was set for, in ms. */
  sweepEveryMs?: number | undefined;
}

/** The address of the RouterActor of `model`. */
export function routerAddress(model: string): string {
  return address(ROUTER_KIND, model);
}

/** `url` without trailing slashes: one replica's URL written two ways is one backend. */
export function trimUrl(url: string): string {
  return url.replace(/\/+$/, "");
}

/** The behaviour of the RouterActor of one model. */
export function routerBehavior(
  options: RouterActorOptions,
): Behavior<RouterActorState, RouterMessage> {
  const now = options.now ?? Date.now;
  const self = routerAddress(options.model);
  // Every BackendActor gets a fresh address, so a replacement never waits for the one it
  // replaces to stop; counted across restarts, as the supervisor re-runs init on this behaviour.
  let spawned = 0;
  const spawnBackend = (
    ctx: ActorContext<RouterMessage>,
    backend: { id: string; url: string; source: BackendSource },
  ) =>
    ctx.spawn(
      backendBehavior({
        ...options,
        backendId: backend.id,
        url: backend.url,
        source: backend.source,
        router: self,
      }),
      `${options.model}/${backend.id}@${++spawned}`,
      { restart: "permanent", backoff: { minMs: 100, maxMs: 5_000 } },
    );
  const publish = (state: RouterActorState, table: RoutingTable) => {
    state.table = table;
    options.router.publish(table);
  };
  const stopMember = (state: RouterActorState, member: Member, stop: (addr: Address) => void) => {
    stop(member.address);
    publish(state, state.table.without(member.id));
  };
  return {
    kind: ROUTER_KIND,
    supervision: { strategy: "one_for_one", intensity: 10, periodMs: 10_000 },
    init(_id, ctx) {
      // After a crash: the same members under new BackendActors, keeping their last reports
      // (so traffic flows until the new actors report) and their in-flight counts.
      const state: RouterActorState = { table: RoutingTable.EMPTY, sweep: undefined };
      for (const { member, report, view } of options.router.table.list()) {
        const actor = spawnBackend(ctx, member);
        const link: BackendLink = { actor, inFlight: view.link.inFlight };
        state.table = state.table.put({ ...member, address: actor.address }, report, link);
        if (member.ttlMs !== undefined) scheduleSweep(state, ctx, member.ttlMs);
      }
      publish(state, state.table);
      return state;
    },
    receive(state, msg, ctx) {
      switch (msg.type) {
        case "report": {
          const known = state.table.get(msg.report.id);
          // A report from a BackendActor since replaced or stopped is dropped.
          if (known?.member.address !== msg.from) return state;
          let report = msg.report;
          // A BackendActor started by a restart may report (a scrape) before its first probe:
          // until that probe answers, the health carried over from before the restart stands.
          if (report.healthy === undefined && known.report?.healthy !== undefined) {
            const healthy = known.report.healthy;
            report = { ...report, healthy, eligible: healthy && report.circuit === "closed" };
          }
          publish(state, state.table.put(known.member, report, known.view.link));
          return state;
        }
        case "add": {
          const url = trimUrl(msg.url);
          const known = state.table.get(msg.id);
          const expiresAtMs = msg.ttlMs === undefined ? undefined : now() + msg.ttlMs;
          const ttl = { ttlMs: msg.ttlMs, expiresAtMs };
          if (known && known.member.url === url) {
            // A registration's re-post refreshes its TTL; a configured or launched backend that
            // a registration happens to name keeps none.
            const member = known.member.source === "registered"
              ? { ...known.member, ...ttl }
              : known.member;
            publish(state, state.table.put(member, known.report, known.view.link));
            if (member.ttlMs !== undefined) scheduleSweep(state, ctx, member.ttlMs);
            ctx.reply(
              { id: msg.id, created: false, expiresAtMs: member.expiresAtMs } satisfies AddResult,
            );
            return state;
          }
          if (known) ctx.stop(known.member.address);
          const actor = spawnBackend(ctx, { id: msg.id, url, source: msg.source });
          const member: Member = {
            id: msg.id,
            url,
            source: msg.source,
            address: actor.address,
            ...ttl,
          };
          publish(state, state.table.put(member, undefined, { actor, inFlight: { value: 0 } }));
          if (msg.ttlMs !== undefined) scheduleSweep(state, ctx, msg.ttlMs);
          ctx.reply({ id: msg.id, created: true, expiresAtMs } satisfies AddResult);
          return state;
        }
        case "heartbeat": {
          const known = state.table.get(msg.id);
          if (!known) {
            ctx.reply(undefined);
            return state;
          }
          const { member, report, view } = known;
          const expiresAtMs = member.ttlMs === undefined ? undefined : now() + member.ttlMs;
          publish(state, state.table.put({ ...member, expiresAtMs }, report, view.link));
          ctx.reply({ id: member.id, created: false, expiresAtMs } satisfies AddResult);
          return state;
        }
        case "remove": {
          const known = state.table.get(msg.id);
          if (known) stopMember(state, known.member, ctx.stop);
          ctx.reply(known !== undefined);
          return state;
        }
        case "sweep": {
          state.sweep = undefined;
          state.sweepEveryMs = undefined;
          const t = now();
          let shortestTtl: number | undefined;
          for (const { member } of state.table.list()) {
            if (member.expiresAtMs === undefined || member.ttlMs === undefined) continue;
            if (member.expiresAtMs <= t) {
              logger.warn("backend expired: no heartbeat within its TTL", {
                model: options.model,
                backend: member.id,
                ttl_ms: member.ttlMs,
              });
              stopMember(state, member, ctx.stop);
            } else {
              shortestTtl = Math.min(shortestTtl ?? Infinity, member.ttlMs);
            }
          }
          if (shortestTtl !== undefined) scheduleSweep(state, ctx, shortestTtl);
          return state;
        }
        case "cache_report": {
          options.router.learn(msg.features, msg.backendId, msg.report);
          return state;
        }
        case "pick": {
          const chosen: BackendView | undefined = options.router.pick(msg.features, msg.exclude);
          ctx.reply(chosen);
          return state;
        }
      }
    },
    onSignal(state, signal) {
      logger.error("backend actor failed", {
        model: options.model,
        actor: signal.child,
        error: signal.error,
        restarting: signal.restarting,
      });
      return state;
    },
    onStop(state) {
      state.sweep?.cancel();
      state.sweep = undefined;
      state.sweepEveryMs = undefined;
    },
  };
}

function scheduleSweep(
  state: RouterActorState,
  ctx: ActorContext<RouterMessage>,
  ttlMs: number,
): void {
  const every = Math.min(5_000, Math.max(50, Math.floor(ttlMs / 4)));
  // A sweep already due soon enough stands; a shorter TTL than any before brings it forward.
  if (state.sweep && (state.sweepEveryMs ?? Infinity) <= every) return;
  state.sweep?.cancel();
  state.sweep = ctx.schedule(every, { type: "sweep" });
  state.sweepEveryMs = every;
}

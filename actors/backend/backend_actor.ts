/** BackendActor: one per replica; probes its health, scrapes its vLLM metrics, keeps its circuit and EWMAs, reports to its router. */
import type { Address } from "../runtime/mod.ts";
import type { ActorContext, Behavior, Cancellable } from "../runtime/mod.ts";
import {
  backendAcquired,
  backendProbed,
  backendProbeTimedOut,
  backendReleased,
  type BackendReport,
  backendReport,
  backendScraped,
  type BackendSource,
  type BackendState,
  type BackendStateOptions,
  backendTick,
  newBackendState,
  type RequestOutcome,
} from "./backend_state.ts";
import { parseVllmMetrics, type VllmMetrics } from "./vllm_metrics.ts";

/** The actor kind of every BackendActor. */
export const BACKEND_KIND = "backend";

/** Messages a BackendActor handles. */
export type BackendMessage =
  | { type: "probe" }
  | { type: "probed"; ok: boolean; error: string | undefined; timedOut?: boolean }
  | { type: "scrape" }
  | { type: "scraped"; metrics: VllmMetrics | undefined }
  | { type: "half_open" }
  | { type: "flush" }
  | { type: "acquired" }
  | { type: "released"; outcome: RequestOutcome }
  | { type: "status" };

/** What the router actor is told whenever the backend changes. */
export interface BackendReportMessage {
  type: "report";
  /** The BackendActor that sent it: a router ignores the last words of one it replaced. */
  from: Address;
  report: BackendReport;
}

/** Settings of one BackendActor. */
export interface BackendActorOptions extends BackendStateOptions {
  /** The model it serves. */
  model: string;
  /** Its id within the model. */
  backendId: string;
  /** Its base URL. */
  url: string;
  /** Where it came from. */
  source: BackendSource;
  /** The router actor to report to. */
  router: Address;
  /** Time between health probes while healthy, in ms. */
  healthIntervalMs: number;
  /** Time between `/metrics` scrapes, in ms. */
  scrapeIntervalMs: number;
  /** How long a probe or scrape may take, in ms. @default 5000 */
  probeTimeoutMs?: number;
  /**
   * Request outcomes move the EWMAs; they are reported to the router at most this often, in ms:
   * each report is a new routing table, and one every 50 ms made the gateway run 5 full GCs per
   * 60,000 requests instead of 2. @default 250
   */
  reportEveryMs?: number;
  /** Clock in ms since the epoch. @default Date.now */
  now?: () => number;
}

/** A BackendActor's state: the replica's state plus its timers and running probes. */
export interface BackendActorState {
  backend: BackendState;
  timers: Map<string, Cancellable>;
  probes: Set<AbortController>;
  /** When the router was last told, in ms since the epoch. */
  reportedAtMs: number;
  /** When a failed request last brought a health probe forward, in ms since the epoch. */
  failureProbedAtMs: number;
}

/** While a replica is unhealthy it is probed at least this often, so a starting replica joins quickly. */
const UNHEALTHY_PROBE_MS = 1_000;

/** A probe or scrape that got no (whole) answer within its timeout. */
class ProbeTimeoutError extends Error {
  override readonly name = "ProbeTimeoutError";
}

/**
 * GETs `url` and hands the answer to `read`, under one timeout for both: a replica that stalls or
 * drops the connection mid-body rejects the returned promise like one that never answers, with a
 * {@linkcode ProbeTimeoutError}.
 */
async function probeFetch<T>(
  url: string,
  options: { timeoutMs: number; probes: Set<AbortController>; read(res: Response): Promise<T> },
): Promise<T> {
  const { timeoutMs, probes } = options;
  const abort = new AbortController();
  probes.add(abort);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort(new ProbeTimeoutError(`no answer within ${timeoutMs} ms`));
  }, timeoutMs);
  try {
    return await options.read(await fetch(url, { signal: abort.signal }));
  } catch (error) {
    throw timedOut ? new ProbeTimeoutError(`no answer within ${timeoutMs} ms`) : error;
  } finally {
    clearTimeout(timer);
    probes.delete(abort);
  }
}

/** Tells an actor from a promise callback; it may have stopped meanwhile, which is fine. */
function tellLater(ctx: ActorContext<BackendMessage>, to: Address, msg: BackendMessage): void {
  try {
    ctx.tell(to, msg);
  } catch {
    // Stopped while the probe ran: its answer has no one to go to.
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The behaviour of the BackendActor for one replica (address `backend/<model>/<id>`). */
export function backendBehavior(
  options: BackendActorOptions,
): Behavior<BackendActorState, BackendMessage> {
  const now = options.now ?? Date.now;
  const timeoutMs = options.probeTimeoutMs ?? 5_000;
  const reportEveryMs = options.reportEveryMs ?? 250;
  // A scrape is "recent" for the busy check over a few scrape intervals.
  const busyOptions: BackendStateOptions = {
    ...options,
    busyWindowMs: options.busyWindowMs ?? Math.max(3 * options.scrapeIntervalMs, 10_000),
  };
  const report = (state: BackendActorState, ctx: ActorContext<BackendMessage>) => {
    state.reportedAtMs = now();
    const message: BackendReportMessage = {
      type: "report",
      from: ctx.self,
      report: backendReport(state.backend, now(), options),
    };
    ctx.tell(options.router, message);
  };
  const schedule = (
    state: BackendActorState,
    ctx: ActorContext<BackendMessage>,
    delayMs: number,
    msg: BackendMessage,
  ) => {
    state.timers.get(msg.type)?.cancel();
    state.timers.set(msg.type, ctx.schedule(delayMs, msg));
  };
  const afterChange = (
    before: BackendState,
    state: BackendActorState,
    ctx: ActorContext<BackendMessage>,
  ) => {
    const after = state.backend;
    if (after.circuit.phase === "open" && before.circuit.phase !== "open") {
      schedule(state, ctx, options.openMs, { type: "half_open" });
    }
  };
  return {
    kind: BACKEND_KIND,
    init(_id, ctx) {
      const state: BackendActorState = {
        backend: newBackendState({
          id: options.backendId,
          model: options.model,
          url: options.url,
          source: options.source,
        }),
        timers: new Map(),
        probes: new Set(),
        reportedAtMs: 0,
        failureProbedAtMs: 0,
      };
      schedule(state, ctx, 0, { type: "probe" });
      schedule(state, ctx, 0, { type: "scrape" });
      return state;
    },
    receive(state, msg, ctx) {
      const before = state.backend;
      switch (msg.type) {
        case "probe": {
          state.timers.delete("probe");
          const self = ctx.self;
          probeFetch(`${before.url}/health`, {
            timeoutMs,
            probes: state.probes,
            read: async (res) => (await res.body?.cancel(), res.status),
          }).then(
            (status) => {
              const ok = status >= 200 && status < 300;
              tellLater(ctx, self, {
                type: "probed",
                ok,
                error: ok ? undefined : `health check answered ${status}`,
              });
            },
            (error) =>
              tellLater(ctx, self, {
                type: "probed",
                ok: false,
                error: `health check failed: ${describe(error)}`,
                timedOut: error instanceof ProbeTimeoutError,
              }),
          );
          return state;
        }
        case "probed": {
          // A probe a busy replica was too slow to answer does not mark it down.
          state.backend = msg.timedOut
            ? backendProbeTimedOut(
              before,
              now(),
              busyOptions,
              msg.error ?? "health check timed out",
            )
            : backendProbed(before, msg.ok, now(), options, msg.error);
          afterChange(before, state, ctx);
          const next = state.backend.healthy
            ? options.healthIntervalMs
            : Math.min(options.healthIntervalMs, UNHEALTHY_PROBE_MS);
          if (state.backend.circuit.phase !== "open") schedule(state, ctx, next, { type: "probe" });
          report(state, ctx);
          return state;
        }
        case "half_open": {
          state.timers.delete("half_open");
          state.backend = backendTick(before, now(), options);
          if (state.backend.circuit.phase === "half_open") {
            schedule(state, ctx, 0, { type: "probe" });
          }
          report(state, ctx);
          return state;
        }
        case "scrape": {
          state.timers.delete("scrape");
          const self = ctx.self;
          probeFetch(`${before.url}/metrics`, {
            timeoutMs,
            probes: state.probes,
            read: async (res) => res.ok ? await res.text() : (await res.body?.cancel(), ""),
          }).then(
            (text) =>
              tellLater(ctx, self, { type: "scraped", metrics: parseVllmMetrics(text, now()) }),
            () => tellLater(ctx, self, { type: "scraped", metrics: undefined }),
          );
          return state;
        }
        case "scraped": {
          if (msg.metrics) {
            state.backend = backendScraped(before, msg.metrics);
            report(state, ctx);
          }
          schedule(state, ctx, options.scrapeIntervalMs, { type: "scrape" });
          return state;
        }
        case "acquired": {
          state.backend = backendAcquired(before);
          return state;
        }
        case "released": {
          const t = now();
          state.backend = backendReleased(before, msg.outcome, t, busyOptions);
          afterChange(before, state, ctx);
          if (state.backend.circuit.phase === "open") state.timers.get("probe")?.cancel();
          else if (
            !msg.outcome.ok && !msg.outcome.aborted && state.backend.healthy &&
            t - state.failureProbedAtMs >= UNHEALTHY_PROBE_MS
          ) {
            // A failed request may be a dead replica (a refused connection, a hang): probe now
            // rather than routing to it until the next interval; at most once a second.
            state.failureProbedAtMs = t;
            schedule(state, ctx, 0, { type: "probe" });
          }
          // A change of circuit is reported at once; new EWMA samples at most every
          // reportEveryMs, so a busy replica does not cost its router a report per request.
          if (
            state.backend.circuit.phase !== before.circuit.phase ||
            t - state.reportedAtMs >= reportEveryMs
          ) {
            report(state, ctx);
          } else if (!state.timers.has("flush")) {
            schedule(state, ctx, reportEveryMs, { type: "flush" });
          }
          return state;
        }
        case "flush": {
          state.timers.delete("flush");
          report(state, ctx);
          return state;
        }
        case "status": {
          ctx.reply(backendReport(state.backend, now(), options));
          return state;
        }
      }
    },
    onStop(state) {
      for (const timer of state.timers.values()) timer.cancel();
      state.timers.clear();
      for (const probe of state.probes) probe.abort(new Error("backend actor stopped"));
    },
  };
}

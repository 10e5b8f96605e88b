/** Starts the gateway: the actor system, a router per model with its backends, launched replicas, and the HTTP server. */
import type { Config } from "../config/mod.ts";
import { kvPath } from "../config/mod.ts";
import { ActorSystem } from "../actors/runtime/mod.ts";
import {
  backendIdFromUrl,
  createPicker,
  Fleet,
  needsPromptText,
  PlacementShare,
  Registrations,
  requestFeatures,
  strategyOptions,
} from "../actors/router/mod.ts";
import { PickerSwitches } from "../actors/router/switchable_picker.ts";
import { SloTracker } from "../proxy/admin/slo/mod.ts";
import { RoutingController, SharedRouting, specKey } from "../proxy/admin/routing/mod.ts";
import { LocalJobs } from "../actors/job/local_jobs.ts";
import { type ClusterJobs, countPhases } from "../actors/job/controller.ts";
import { openClusterJobs } from "../actors/job/open.ts";
import { fleetRouting } from "../actors/job/fleet_routing.ts";
import { openCluster } from "../cluster/slurm/connect.ts";
import type { JobsController } from "../actors/job/types.ts";
import { createApp } from "../proxy/mod.ts";
import type { ForwardContext } from "../proxy/mod.ts";
import { RecordLog, RecordStore } from "../proxy/mod.ts";
import { UpstreamClient } from "../proxy/upstream/mod.ts";
import { RateLimits } from "../proxy/limits/mod.ts";
import { Deadlines } from "../proxy/mod.ts";
import { reaperBehavior, SessionService, SessionStore } from "../actors/session/mod.ts";
import { loadTokenCounter } from "../actors/session/compression/mod.ts";
import { gatewaySummarizer } from "./summarizer.ts";
import { Admission } from "../actors/admission/mod.ts";
import { drained, drainingRefusal, inFlightOf } from "./drain.ts";
import { Authenticator } from "../proxy/auth/authenticator.ts";
import { logger } from "../actors/runtime/mod.ts";
import { GatewayMetrics } from "../proxy/admin/metrics/mod.ts";
import { configDigest } from "../proxy/admin/health.ts";
import { followAccessLog, promptLogger } from "../proxy/access_log.ts";
import { headerTimeoutFor, serveGuarded } from "../proxy/guards/guarded_serve.ts";
import type { ConnectionGuard } from "../proxy/guards/connection.ts";

/** Options of {@linkcode startGateway}. */
export interface GatewayOptions {
  /** Port to listen on, instead of `proxy.port`; 0 picks a free one. */
  port?: number;
  /** Interface to listen on, instead of `proxy.host`. */
  hostname?: string;
  /** An actor system to run in; one is started on the config's KV file when absent (and shut down with the gateway). */
  system?: ActorSystem;
  /** Ports for the launched replicas of each model, instead of `base_port + i` (0 picks free ones). */
  replicaPorts?: Record<string, number[]>;
  /** How long to wait for the first health probe of the backends before serving, in ms. @default 5000 */
  settleMs?: number;
  /** Records kept in memory for this process's `/api/stats` and `/api/requests`. @default proxy.records.retention */
  recordCapacity?: number;
  /** Clock in ms since the epoch, for the actors. @default Date.now */
  now?: () => number;
}

/** A running gateway. */
export interface Gateway {
  /** Base URL, e.g. `http://127.0.0.1:5800`. */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /** Its routers and backends. */
  readonly fleet: Fleet;
  /** Its per-request records. */
  readonly records: RecordStore;
  /** The per-request records of every gateway process on its KV store, which its own feed. */
  readonly log: RecordLog;
  /** The backend registrations every gateway process on its KV store shares. */
  readonly registrations: Registrations;
  /** Its routing placements shared with the other gateway processes on its KV store; undefined with `proxy.share_placements: false`. */
  readonly placements: PlacementShare | undefined;
  /** The actor system it runs in. */
  readonly system: ActorSystem;
  /** Its durable sessions. */
  readonly sessions: SessionService;
  /** Its rate limits (`limits:`), counted here and shared through KV. */
  readonly limits: RateLimits;
  /** Admission control: in-flight caps per replica and the queue per model (`admission:`). */
  readonly admission: Admission;
  /** Checks credentials and holds the API keys (`auth:`). */
  readonly auth: Authenticator;
  /** What `GET /metrics` shows. */
  readonly metrics: GatewayMetrics;
  /** The job actors of its launched replicas (SLURM jobs or local processes), when it has any. */
  readonly jobs: JobsController | undefined;
  /** The connection guard timing request heads (`proxy.header_timeout`), when it is on. */
  readonly guard: ConnectionGuard | undefined;
  /**
   * Drains: answers new requests 503 (`connection: close`) while the requests in flight finish, up
   * to `deadlineMs`; then stops listening, and stops the actors and replicas.
   */
  close(options?: { deadlineMs?: number }): Promise<void>;
}

/**
 * Starts the gateway for `config`: a RouterActor per model, a BackendActor per static endpoint,
 * a supervised process per launched replica (`cluster.type: local`), and the HTTP server.
 *
 * @example
 * ```ts
 * const gateway = await startGateway(config, { port: 0 });
 * const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "none" });
 * await gateway.close();
 * ```
 */
export async function startGateway(config: Config, options: GatewayOptions = {}): Promise<Gateway> {
  const ownSystem = options.system === undefined;
  logger.configure({ level: config.logging.level });
  // Durable messages wait until the session kinds are registered below.
  const system = options.system ??
    await ActorSystem.start({ kvPath: kvPath(config), listen: false });
  // What start-up has opened so far, closed in reverse when a later step fails (a taken port, an
  // unreachable cluster), so that a failed start leaves no timer, handle or replica behind.
  const opened = new AsyncDisposableStack();
  // Closing the gateway closes all of it the same way, after draining (see close() below).
  const shutdown = { deadlineMs: 10_000 };
  try {
    const systemKv = system.kv;
    let reader = systemKv;
    if (ownSystem) {
      // Session reads go through a handle of their own on the same file, so they do not queue
      // behind its commits (a plain call's first read of its session's home is on the way to the
      // replica). Closed after the system, whose actors read through it until they stop; the
      // system is shut down also when that handle cannot be opened.
      opened.defer(async () => {
        await system.shutdown(shutdown);
        if (reader !== systemKv) reader?.close();
      });
      reader = await Deno.openKv(kvPath(config));
    }
    return await startOn({ system, reader, opened, shutdown }, config, options);
  } catch (error) {
    await opened.disposeAsync().catch((closing) =>
      logger.warn("closing after a failed start failed", { error: String(closing) })
    );
    throw error;
  }
}

/** What {@linkcode startOn} starts in. */
interface StartContext {
  system: ActorSystem;
  /** The KV handle session reads go through. */
  reader: Deno.Kv | undefined;
  /** What is open so far, to close in reverse: start-up adds each part as it opens it. */
  opened: AsyncDisposableStack;
  /** The deadline the system's shutdown is given, set by close(). */
  shutdown: { deadlineMs: number };
}

/** {@linkcode startGateway} in `start.system`; each part it opens it defers to `start.opened`. */
async function startOn(
  { system, reader, opened, shutdown }: StartContext,
  config: Config,
  options: GatewayOptions,
): Promise<Gateway> {
  const now = options.now ?? Date.now;
  // Every model routes through a switchable picker: POST /api/routing changes its strategy.
  const switches = new PickerSwitches(
    config.proxy.strategy,
    (spec) => createPicker(spec, strategyOptions(config.proxy, { now })),
  );
  // Set once KV is at hand below; picks before then (none: no request is served yet) share nothing.
  let placements: PlacementShare | undefined;
  const fleet = new Fleet(system, config.proxy, {
    now,
    picker: (model) => switches.pickerFor(model),
    ...(config.proxy.share_placements
      ? {
        placements: (model) => ({
          placed: (id, request) => placements?.note(model, id, request),
          prefilled: (request) => placements?.prefilled(request),
        }),
      }
      : {}),
  });
  const records = new RecordStore({
    capacity: options.recordCapacity ?? config.proxy.records.retention,
  });
  const startedAtMs = Date.now();
  let localJobs: LocalJobs | undefined;
  let clusterJobs: ClusterJobs | undefined;
  // Requests waiting in the gateway's own queue per model, for autoscaling; set once admission is.
  let queuedOf = (_model: string): number => 0;
  opened.defer(() => fleet.close());
  for (const model of config.models) {
    fleet.addModel(model.name);
    if (model.endpoints) {
      for (const url of model.endpoints) {
        await fleet.addBackend(model.name, { id: backendIdFromUrl(url), url, source: "static" });
      }
    }
  }
  if (config.cluster.type === "local" && config.models.some((m) => !m.endpoints)) {
    const launched = new LocalJobs({
      config,
      system,
      fleet,
      ...(options.replicaPorts ? { replicaPorts: options.replicaPorts } : {}),
    });
    localJobs = launched;
    opened.defer(async () => {
      if (launched.supervisor) await system.stop(launched.supervisor);
    });
    await launched.launchAll();
  }
  if (config.cluster.type === "slurm" && config.models.some((m) => !m.endpoints)) {
    const slurm = await openCluster(config);
    opened.defer(() => slurm.close());
    const controller = await openClusterJobs(config, slurm, {
      system,
      routing: fleetRouting(fleet, { recent: () => records.recent({ limit: 2_000 }) }),
      queued: (model) => queuedOf(model),
    });
    clusterJobs = controller;
    opened.defer(() => controller.close());
    // A restart re-attaches to the jobs in KV; a model never started is started as configured.
    await controller.resume({ startNew: true });
  }
  await Promise.all(
    config.models.filter((m) => m.endpoints).map((m) =>
      fleet.settled(m.name, options.settleMs ?? 5_000)
    ),
  );

  const blockChars = config.proxy.prefix_block_chars;
  // The prompt's text is copied out only for strategies that read it (sglang_cache_aware, llmd_default).
  // Rechecked when the routing changes at run time.
  let promptText = needsPromptText(config.proxy.strategy);
  const upstream = new UpstreamClient({
    transport: config.proxy.upstream_client,
    connectTimeoutMs: config.proxy.connect_timeout * 1000,
    firstByteTimeoutMs: config.proxy.first_byte_timeout * 1000,
    idleTimeoutMs: config.proxy.pool_idle_timeout * 1000,
    maxConnectionsPerBackend: config.proxy.max_connections_per_backend,
  });
  opened.defer(() => upstream.close());
  const deadlines = new Deadlines();
  opened.defer(() => deadlines.clear());
  const admission = new Admission(config.admission, {
    priorityModels: config.models.filter((m) => m.scheduling_policy === "priority").map((m) =>
      m.name
    ),
  });
  opened.defer(() => admission.close());
  queuedOf = (model) => admission.stats()[model]?.waiting ?? 0;
  const forward: ForwardContext = {
    proxy: config.proxy,
    headers: config.headers,
    router: (model) => fleet.router(model),
    features: (body, sessionId) => requestFeatures(body, { sessionId, blockChars, promptText }),
    started: (backend) => fleet.started(backend),
    finished: (backend, outcome) => fleet.finished(backend, outcome),
    replicaLoad: (model, backendId) => fleet.report(model, backendId)?.metrics,
    ...(config.proxy.prefix_feedback
      ? {
        cacheReport: (backend, features, report) => fleet.cacheReport(backend, features, report),
      }
      : {}),
    records,
    upstream,
    deadlines,
    admission,
    ...(config.logging.log_prompts ? { logPrompt: promptLogger(logger) } : {}),
  };
  const kv = system.kv;
  if (!kv || !reader) {
    throw new Error("The gateway needs an actor system with a KV store for its sessions");
  }
  const auth = await Authenticator.start(config.auth, kv);
  opened.defer(() => auth.close());
  const selfAuth = auth.enabled ? { authorization: auth.internalAuthorization } : {};
  const counter = await loadTokenCounter();
  const store = new SessionStore(kv, undefined, reader);
  let selfUrl = "";
  const sessions = new SessionService({
    system,
    store,
    config: config.sessions,
    budgetOf: (model) => config.models.find((m) => m.name === model)?.max_model_len ?? 131_072,
    countMessage: (m) => counter.countMessage(m),
    summarizer: (model) => gatewaySummarizer(() => selfUrl, model, selfAuth),
    queueTimeoutMs: config.proxy.request_timeout * 1000,
    now,
  });
  system.registerKind(reaperBehavior({
    store,
    now,
    onExpire: config.sessions.on_expire,
    expired: (id) => sessions.forget(id),
  }));
  await system.listen();
  opened.defer(() => sessions.close());
  await sessions.start();
  // Shared through KV with every gateway process on the store: written off the hot path.
  const log = new RecordLog(kv, { nodeId: system.nodeId, config: config.proxy.records, now });
  opened.defer(() => log.close());
  const unfollow = log.follow(records);
  opened.defer(unfollow);
  const registrations = new Registrations(kv, fleet, {
    nodeId: system.nodeId,
    syncMs: config.proxy.registration_sync_interval * 1000,
    now,
  });
  opened.defer(() => registrations.close());
  await registrations.start();
  if (config.proxy.share_placements) {
    const sharing = new PlacementShare(kv, {
      absorb: (model, id, hashes, pending) => fleet.router(model)?.absorb(id, hashes, pending),
      absorbedPrefilled: (model, id, pending) =>
        fleet.router(model)?.absorbedPrefilled(id, pending),
    }, {
      nodeId: system.nodeId,
      blockChars: config.proxy.prefix_block_chars,
      intervalMs: config.proxy.placement_share_interval * 1000,
      othersPresent: () => sessions.othersPresent,
      now,
    });
    placements = sharing;
    opened.defer(() => sharing.close());
    sharing.start();
  }
  // Counted on the hot path, shared through KV by a timer.
  const limits = new RateLimits(config.limits, { kv, nodeId: system.nodeId, now });
  opened.defer(() => limits.close());
  await limits.start();
  forward.limits = limits;
  const jobs: JobsController | undefined = localJobs ?? clusterJobs;
  const metrics = new GatewayMetrics({
    records,
    knownModel: (model) => fleet.router(model) !== undefined,
    strategy: typeof config.proxy.strategy === "string"
      ? config.proxy.strategy
      : Object.keys(config.proxy.strategy).sort().join("+"),
    startedAtMs,
    fleet,
    admission,
    system,
    sessions: { active: () => store.activeCount(), liveActors: () => sessions.liveActors },
    logger,
    ...(jobs ? { jobPhases: async () => countPhases(await jobs.status()) } : {}),
  });
  opened.defer(() => metrics.close());
  // SLO burn from every finished record, in process; canaries are judged at each evaluation.
  const slo = new SloTracker({
    config: config.slo,
    records,
    registry: metrics.registry,
    logger,
    armOf: (record) => switches.get(record.model)?.armOf(record.sessionId),
    now,
  });
  opened.defer(() => slo.close());
  const routing = new RoutingController({
    switches,
    slo,
    config: config.slo,
    registry: metrics.registry,
    logger,
    changed: () => {
      promptText = switches.strategies().some(needsPromptText);
    },
    // Every process on the KV store routes alike: a change here reaches the others within a sync.
    shared: {
      store: new SharedRouting(kv, specKey(config.proxy.strategy)),
      nodeId: system.nodeId,
      syncMs: config.proxy.registration_sync_interval * 1000,
    },
    now,
  });
  opened.defer(() => routing.close());
  await routing.start();
  slo.start();
  for (const model of Object.keys(config.slo.models)) {
    if (!config.models.some((m) => m.name === model)) {
      logger.warn("slo.models names a model the config does not list", {
        model,
        hint: "its objectives apply once a replica of that model registers",
      });
    }
  }
  // Formatted when each record is added; written to stderr in batches, after the request.
  const unlogAccess = config.logging.access_log ? followAccessLog(records, logger) : undefined;
  if (unlogAccess) opened.defer(unlogAccess);
  const digest = await configDigest(config);
  // Ends the dashboards' event streams when the gateway closes: Deno's shutdown would wait for them.
  const closingFeeds = new AbortController();
  const app = createApp({
    closing: closingFeeds.signal,
    fleet,
    records,
    log,
    registrations,
    nodeId: system.nodeId,
    startedAtMs,
    forward,
    sessions,
    auth,
    admission,
    metrics,
    routing: { routing, slo },
    health: {
      fleet,
      registrations,
      system,
      startedAtMs,
      configDigest: digest,
      ...(jobs ? { jobs: () => jobs.status() } : {}),
      placements: () => ({
        shared: placements !== undefined,
        others_present: sessions.othersPresent,
        absorbed: placements?.absorbed ?? 0,
        foreign_prefills: placements?.foreignPrefills ?? 0,
      }),
    },
    ...(jobs ? { jobs } : {}),
  });
  // Set by close(): new requests, also on kept-alive connections, get a 503 while streams drain.
  let draining = false;
  const hostname = options.hostname ?? config.proxy.host;
  const server = await serveGuarded({
    hostname,
    port: options.port ?? config.proxy.port,
    headerTimeoutS: headerTimeoutFor(config.proxy.header_timeout, hostname),
  }, (request, info) => draining ? drainingRefusal() : app.fetch(request, info));
  const addr = server.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  selfUrl = `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${addr.port}`;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${addr.port}`,
    port: addr.port,
    fleet,
    records,
    log,
    registrations,
    placements,
    system,
    sessions,
    auth,
    admission,
    limits,
    metrics,
    jobs,
    guard: server.guard,
    close({ deadlineMs = 10_000 } = {}) {
      closing ??= (async () => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const deadline = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, deadlineMs);
        });
        draining = true;
        closingFeeds.abort();
        await drained(() => inFlightOf(fleet), deadlineMs);
        // Whoever still waits for a slot is refused (503) rather than held past the drain.
        admission.close();
        await Promise.race([server.shutdown(), deadline]);
        clearTimeout(timer);
        await server.guard?.close();
        // The rest, in the reverse of the order it started in. The SLURM jobs keep running: the
        // next gateway on this KV file re-attaches to them.
        shutdown.deadlineMs = deadlineMs;
        await opened.disposeAsync();
        await logger.flush();
      })();
      return closing;
    },
  };
}

/**
 * The {@linkcode JobsController} of launched models: a ModelActor per model (and a JobActor per
 * replica job under it) on an actor system, one shared poller (squeue once per poll interval for
 * every job, sacct for those squeue no longer lists), autoscaling on the same beat, and status
 * rows read from KV, so a gateway and `deno task jobs` alone see the same state.
 */
import type { Config, ModelConfig } from "../../config/mod.ts";
import type { PendingGroup } from "../../cluster/slurm/types.ts";
import type { ActorRef, ActorSystem } from "../runtime/mod.ts";
import { logger, Repeating } from "../runtime/mod.ts";
import { acquireLease, releaseLease, renewLeaseIn } from "../runtime/durable/lease.ts";
import type { AutoscalePolicy } from "./autoscale.ts";
import type { JobDriver } from "./driver.ts";
import { FINAL_PHASES, type JobState, type MachineConfig } from "./machine.ts";
import { modelBehavior, type ModelMessage } from "./model_actor.ts";
import { JobStore, type ModelRecord } from "./store.ts";
import { JOB_PHASES, type JobPhase, type JobsController, type JobStatusRow } from "./types.ts";

/** How PENDING reasons are read (cluster/slurm/parse.ts's). */
export interface PendingReasons {
  groupOf(reason: string): PendingGroup;
  neverClears(reason: string): boolean;
}

/** A bad request to the controller: an unknown model (the API's 404) or a bad count (400). */
export class JobsRequestError extends Error {
  /** `model_not_found`, `invalid_replicas`, or `owned_elsewhere` (another process runs the actors: 409). */
  readonly code: "model_not_found" | "invalid_replicas" | "owned_elsewhere";
  /** @param message what was wrong and what to do, @param code which mistake */
  constructor(message: string, code: JobsRequestError["code"]) {
    super(message);
    this.name = "JobsRequestError";
    this.code = code;
  }
}

/** Options of {@linkcode ClusterJobs.open}. */
export interface ClusterJobsOptions {
  config: Config;
  /** The actor system the actors run in; it must have a KV store (their records live there). */
  system: ActorSystem;
  driver: JobDriver;
  pending: PendingReasons;
  /** Requests waiting in the gateway's admission queue per model, for autoscaling. */
  queued?: (model: string) => number;
  /** Time between polls, in ms. @default cluster.slurm.poll_interval */
  pollMs?: number;
  /** How long a drain waits for requests in flight, in ms. @default proxy.drain_timeout */
  drainMs?: number;
  now?: () => number;
}

/** The models a controller launches: those without `endpoints`. */
function launched(config: Config): ModelConfig[] {
  return config.models.filter((m) => m.endpoints === undefined);
}

/** The state machine's settings for `model`, from the config. */
export function machineConfigOf(
  config: Config,
  model: ModelConfig,
  pending: PendingReasons,
  drainMs?: number,
): MachineConfig {
  const slurm = config.cluster.slurm;
  const partitions = [...(slurm?.partitions ?? [])]
    .map((p, i) => ({ p, i }))
    .sort((a, b) => b.p.priority - a.p.priority || a.i - b.i)
    .map(({ p }) => ({
      name: p.name,
      ...(p.qos === undefined ? {} : { qos: p.qos }),
      ...(p.account === undefined ? {} : { account: p.account }),
    }));
  const pollMs = (slurm?.poll_interval ?? 10) * 1000;
  return {
    partitions: partitions.length > 0 ? partitions : [{ name: "local" }],
    basePort: model.base_port,
    pendingTimeoutMs: (slurm?.pending_timeout ?? 600) * 1000,
    maxAttempts: slurm?.max_attempts ?? 5,
    backoff: {
      initialMs: (slurm?.backoff.initial ?? 5) * 1000,
      maxMs: (slurm?.backoff.max ?? 300) * 1000,
    },
    signalLeadMs: (slurm?.signal_lead ?? 300) * 1000,
    startupTimeoutMs: model.startup_timeout * 1000,
    drainDeadlineMs: drainMs ?? config.proxy.drain_timeout * 1000,
    // sacct lags a few seconds; a few polls more before a job counts as gone.
    missingGraceMs: Math.max(15_000, 3 * pollMs),
    pendingGroupOf: (reason) => pending.groupOf(reason),
    neverClears: (reason) => pending.neverClears(reason),
  };
}

/** `models[].autoscale` in the decision's units. */
export function autoscalePolicyOf(model: ModelConfig): AutoscalePolicy | undefined {
  const a = model.autoscale;
  if (!a) return undefined;
  return {
    min: a.min,
    max: a.max,
    targetWaiting: a.target_waiting,
    targetKvUsage: a.target_kv_usage,
    cooldownMs: a.cooldown * 1000,
  };
}

function healthOf(job: JobState): JobStatusRow["health"] {
  switch (job.phase) {
    case "healthy":
    case "draining":
      return "healthy";
    case "running":
      return "starting";
    case "backoff":
    case "failed":
      return "unhealthy";
    default:
      return "unknown";
  }
}

/** One status row of a job. */
export function statusRow(job: JobState, driver: JobDriver): JobStatusRow {
  return {
    model: job.model,
    replica: job.replica,
    jobId: job.jobId,
    kind: driver.kind,
    phase: job.phase,
    slurmState: job.slurmState,
    partition: job.partition,
    node: job.node,
    pendingReason: job.pendingReason,
    pendingGroup: job.pendingGroup,
    sinceMs: job.sinceMs,
    endpoint: job.endpoint,
    port: job.port,
    outputPath: job.jobId === undefined ? undefined : driver.outputPath(job),
    health: healthOf(job),
    attempts: job.attempts,
    lastError: job.lastError,
  };
}

/** Refuses a replica count `scale` cannot take: not a count, or outside `autoscale`'s bounds. */
export function checkReplicas(
  model: Pick<ModelConfig, "name" | "autoscale">,
  replicas: number,
): void {
  if (!Number.isInteger(replicas) || replicas < 0) {
    throw new JobsRequestError(
      `replicas must be a non-negative integer, got ${replicas}`,
      "invalid_replicas",
    );
  }
  const bounds = model.autoscale;
  if (bounds && (replicas < bounds.min || replicas > bounds.max)) {
    throw new JobsRequestError(
      `${replicas} replicas is outside "${model.name}"'s autoscale bounds ` +
        `${bounds.min}-${bounds.max}; change models[].autoscale or pick a count within it`,
      "invalid_replicas",
    );
  }
}

/** Rows counted by phase, every phase present (for `turnpike_jobs{state}`). */
export function countPhases(
  rows: readonly Pick<JobStatusRow, "phase">[],
): Record<JobPhase, number> {
  const counts = Object.fromEntries(JOB_PHASES.map((p) => [p, 0])) as Record<JobPhase, number>;
  for (const row of rows) counts[row.phase]++;
  return counts;
}

const ASK_MS = 30_000;

/** The lease of the process that runs the job actors of a KV file. */
const OWNER_LEASE = { kind: "job-owner", id: "all" };

/** The job actors of the launched models, and the calls `deno task jobs` and `/api/jobs` make. */
export class ClusterJobs implements JobsController {
  readonly #options: ClusterJobsOptions;
  readonly #store: JobStore;
  readonly #models = new Map<string, ActorRef<ModelMessage>>();
  readonly #poller: Repeating;
  readonly #now: () => number;
  readonly #kv: Deno.Kv;
  readonly #pollMs: number;
  readonly #leaseMs: number;
  /** The owner lease's fencing token while this process runs the actors. */
  #token: string | undefined;
  /** Who holds the lease when this process does not. */
  #heldBy: string | undefined;
  /** A resume asked for before this process held the lease, run once it does. */
  #pendingResume: { startNew?: boolean } | undefined;
  #owning: Promise<boolean> | undefined;

  private constructor(options: ClusterJobsOptions, kv: Deno.Kv) {
    this.#options = options;
    this.#kv = kv;
    this.#store = new JobStore(kv);
    this.#now = options.now ?? Date.now;
    this.#pollMs = options.pollMs ?? (options.config.cluster.slurm?.poll_interval ?? 10) * 1000;
    // A few missed renewals (a loaded machine) before another process may take over.
    this.#leaseMs = Math.max(15_000, 3 * this.#pollMs);
    this.#poller = new Repeating(() => this.pollOnce(), {
      intervalMs: this.#pollMs,
      what: "poll the cluster's jobs",
      keepsAlive: false,
    });
  }

  /**
   * Takes the job actors' lease on the KV file (one process runs them, so no job is submitted
   * twice) and starts a ModelActor for every launched model (re-attaching to the jobs KV has for
   * it) and the poller. Nothing is submitted: call {@linkcode resume} (a gateway) or
   * {@linkcode start}. When another process holds the lease, this one reads the rows and takes
   * over once that lease lapses (its process died).
   */
  static async open(options: ClusterJobsOptions): Promise<ClusterJobs> {
    const kv = options.system.kv;
    if (!kv) throw new Error("The job actors need an actor system with a KV store");
    const jobs = new ClusterJobs(options, kv);
    await jobs.#tryOwn();
    jobs.#poller.start();
    return jobs;
  }

  /** Whether this process runs the job actors (holds their lease). */
  get owner(): boolean {
    return this.#token !== undefined;
  }

  /** One attempt at a time (a poll and a call may both try): the first one's outcome. */
  #tryOwn(): Promise<boolean> {
    this.#owning ??= this.#takeLease().finally(() => {
      this.#owning = undefined;
    });
    return this.#owning;
  }

  async #takeLease(): Promise<boolean> {
    if (this.#token !== undefined) return true;
    const lease = await acquireLease(this.#kv, OWNER_LEASE, {
      owner: this.#options.system.nodeId,
      ttlMs: this.#leaseMs,
    });
    if (!lease.ok) {
      this.#heldBy = lease.owner;
      return false;
    }
    this.#token = lease.token;
    this.#heldBy = undefined;
    this.#spawnModels();
    const resume = this.#pendingResume;
    this.#pendingResume = undefined;
    if (resume) await this.resume(resume);
    return true;
  }

  /** Extends the lease; when it was lost (this process stalled past it), stops the actors. */
  async #renew(): Promise<boolean> {
    const op = this.#kv.atomic();
    renewLeaseIn(op, OWNER_LEASE, {
      token: this.#token as string,
      owner: this.#options.system.nodeId,
      ttlMs: this.#leaseMs,
    });
    const result = await op.commit();
    if (result.ok) {
      this.#token = result.versionstamp;
      return true;
    }
    logger.error("another process took over the job actors; this one stops running them");
    this.#token = undefined;
    await this.#stopModels();
    return false;
  }

  /** Waits (about one lease) to hold the lease, for a call that changes jobs. */
  async #own(): Promise<void> {
    const deadline = this.#now() + this.#leaseMs + 2 * this.#pollMs;
    while (!(await this.#tryOwn())) {
      if (this.#now() >= deadline) {
        throw new JobsRequestError(
          `Another process (${this.#heldBy}) runs the job actors on this KV file; send the ` +
            "request to its /api/jobs, or stop it first",
          "owned_elsewhere",
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  #spawnModels(): void {
    const options = this.#options;
    for (const model of launched(options.config)) {
      const ref = options.system.spawn(
        modelBehavior({
          model: model.name,
          config: machineConfigOf(options.config, model, options.pending, options.drainMs),
          driver: options.driver,
          store: this.#store,
          autoscale: autoscalePolicyOf(model),
          portStride: Math.max(model.replicas, model.autoscale?.max ?? 0),
          ...(options.queued ? { queued: () => options.queued!(model.name) } : {}),
          ...(options.now ? { now: options.now } : {}),
        }),
        model.name,
      );
      this.#models.set(model.name, ref);
    }
  }

  async #stopModels(): Promise<void> {
    for (const ref of this.#models.values()) await this.#options.system.stop(ref.address);
    this.#models.clear();
  }

  /** The job records in KV. */
  get store(): JobStore {
    return this.#store;
  }

  /**
   * What a gateway does at start: models already started keep their desired count (a restart
   * re-attaches, submitting nothing new), models never started or stopped are left alone unless
   * `startNew`, which starts those never started at their configured `replicas`.
   */
  async resume(options: { startNew?: boolean } = {}): Promise<void> {
    if (this.#token === undefined) {
      this.#pendingResume = options;
      return;
    }
    for (const model of launched(this.#options.config)) {
      const record = await this.#store.model(model.name);
      if (record === undefined && !options.startNew) continue;
      const desired = record?.desired ?? model.replicas;
      const stopped = record?.stopped ?? false;
      await this.#set(model.name, desired, stopped, false, record ? "resumed" : "configured");
    }
  }

  async start(models?: readonly string[]): Promise<JobStatusRow[]> {
    const names = this.#names(models);
    await this.#own();
    for (const name of names) {
      const model = this.#model(name);
      const record = await this.#store.model(name);
      // A model started before keeps a count set by scale; a stopped one starts at its config's.
      const desired = record && !record.stopped ? record.desired : model.replicas;
      await this.#set(name, desired, false, true, "start");
    }
    await this.#until(names, (job) => job.phase !== "planned", 60_000);
    return await this.status();
  }

  async scale(model: string, replicas: number): Promise<JobStatusRow[]> {
    checkReplicas(this.#model(model), replicas);
    await this.#own();
    await this.#set(model, replicas, false, true, `scale to ${replicas}`);
    await this.#until([model], (job) => job.phase !== "planned", 60_000);
    return await this.status();
  }

  async stop(model?: string): Promise<JobStatusRow[]> {
    const names = this.#names(model === undefined ? undefined : [model]);
    await this.#own();
    for (const name of names) await this.#set(name, 0, true, false, "stop");
    const drainMs = this.#options.drainMs ?? this.#options.config.proxy.drain_timeout * 1000;
    await this.#until(
      names,
      (job) => FINAL_PHASES.has(job.phase) || job.phase === "cancelling",
      drainMs + 60_000,
    );
    return await this.status();
  }

  async status(): Promise<JobStatusRow[]> {
    const configured = new Set(launched(this.#options.config).map((m) => m.name));
    return (await this.#store.jobs())
      .filter((job) => configured.has(job.model))
      .map((job) => statusRow(job, this.#options.driver));
  }

  /** The models' records (desired counts, stopped, the last change's reason). */
  async models(): Promise<ModelRecord[]> {
    const out: ModelRecord[] = [];
    for (const { name } of launched(this.#options.config)) {
      const record = await this.#store.model(name);
      if (record) out.push(record);
    }
    return out;
  }

  /** One poll: squeue (and sacct) for every job with an id, told to its ModelActor; then autoscale. */
  async pollOnce(): Promise<void> {
    // Not the owner: take over once the owner's lease lapsed; the owner renews it here.
    if (this.#token === undefined ? !(await this.#tryOwn()) : !(await this.#renew())) return;
    const jobs = (await this.#store.jobs()).filter((j) =>
      j.jobId !== undefined && !FINAL_PHASES.has(j.phase)
    );
    const ids = jobs.map((j) => j.jobId as string);
    const infos = await this.#options.driver.poll(ids);
    for (const [name, ref] of this.#models) {
      const polled = jobs.filter((j) => j.model === name).map((j) => j.jobId as string);
      if (polled.length > 0) {
        ref.tell({ type: "observed", polled, infos: Object.fromEntries(infos) });
      }
      ref.tell({ type: "autoscale" });
    }
  }

  /** Stops the poller and the actors and lets the lease go; the jobs keep running on the cluster. */
  async close(): Promise<void> {
    this.#poller.stop();
    await this.#stopModels();
    const token = this.#token;
    this.#token = undefined;
    if (token !== undefined) await releaseLease(this.#kv, OWNER_LEASE, token).catch(() => false);
  }

  #names(models: readonly string[] | undefined): string[] {
    if (models === undefined || models.length === 0) {
      return launched(this.#options.config).map((m) => m.name);
    }
    for (const name of models) this.#model(name);
    return [...models];
  }

  #model(name: string): ModelConfig {
    const model = launched(this.#options.config).find((m) => m.name === name);
    if (!model) {
      const known = launched(this.#options.config).map((m) => m.name);
      throw new JobsRequestError(
        `Unknown model "${name}": the launched models are ${
          known.length ? known.map((k) => `"${k}"`).join(", ") : "(none)"
        }`,
        "model_not_found",
      );
    }
    return model;
  }

  async #set(model: string, desired: number, stopped: boolean, restart: boolean, reason: string) {
    const ref = this.#models.get(model);
    if (!ref) throw new JobsRequestError(`Unknown model "${model}"`, "model_not_found");
    await ref.ask({ type: "set_desired", desired, stopped, restart, reason }, {
      timeoutMs: ASK_MS,
    });
  }

  /** Waits until every job of `models` satisfies `done`, up to `timeoutMs`. */
  async #until(models: string[], done: (job: JobState) => boolean, timeoutMs: number) {
    const deadline = this.#now() + timeoutMs;
    const wanted = new Set(models);
    while (this.#now() < deadline) {
      const jobs = (await this.#store.jobs()).filter((j) => wanted.has(j.model));
      if (jobs.every(done)) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    logger.warn("jobs did not settle in time", { models, timeoutMs });
  }
}

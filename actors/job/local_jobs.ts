/**
 * `cluster.type: local` through the same {@linkcode JobsController} rows: each launched replica is
 * today's supervised ReplicaActor (restarted with backoff when its process dies), given its own
 * GPUs from `cluster.gpus` as `CUDA_VISIBLE_DEVICES`; `status` asks each actor, `scale` and
 * `stop` start and stop them (retiring the backend from the router first). What `start`, `scale`
 * and `stop` asked for is kept in KV as the model's record, as for SLURM jobs, so a restarted
 * gateway launches the scaled count, and none of a stopped model until `start`.
 */
import type { Config, ModelConfig } from "../../config/mod.ts";
import type { ActorSystem, Address } from "../runtime/mod.ts";
import { backendIdFromUrl, type Fleet, routerAddress } from "../router/mod.ts";
import {
  replicaSupervisorBehavior,
  type ReplicaSupervisorMessage,
} from "../../cluster/replica_actor.ts";
import type { ReplicaMessage, ReplicaStatus } from "../../cluster/replica_actor.ts";
import { REPLICA_KIND } from "../../cluster/replica_actor.ts";
import { address } from "../runtime/mod.ts";
import { checkReplicas, JobsRequestError } from "./controller.ts";
import type { JobsController, JobStatusRow } from "./types.ts";
import { JobStore } from "./store.ts";

/**
 * The GPUs of each launched replica, `model/index` -> `"0,1"`: `tensor_parallel_size` ids each, in
 * the order of `gpus`, model by model. Undefined when `gpus` is not given (nothing is set).
 */
export function assignGpus(
  models: readonly Pick<ModelConfig, "name" | "replicas" | "tensor_parallel_size" | "endpoints">[],
  gpus: readonly number[] | undefined,
): Map<string, string> | undefined {
  if (gpus === undefined) return undefined;
  const out = new Map<string, string>();
  let next = 0;
  for (const model of models) {
    if (model.endpoints) continue;
    for (let i = 0; i < model.replicas; i++) {
      const mine = gpus.slice(next, next + model.tensor_parallel_size);
      next += model.tensor_parallel_size;
      // The config check refuses too few GPUs; a replica past the list gets none rather than a wrong one.
      if (mine.length === model.tensor_parallel_size) out.set(`${model.name}/${i}`, mine.join(","));
    }
  }
  return out;
}

/** Options of {@linkcode LocalJobs}. */
export interface LocalJobsOptions {
  config: Config;
  system: ActorSystem;
  fleet: Fleet;
  /** Ports of each model's replicas instead of `base_port + i` (0 picks a free one). */
  replicaPorts?: Record<string, number[]>;
}

interface LocalReplica {
  model: ModelConfig;
  index: number;
  id: string;
  sinceMs: number;
  /** Set by stop or a scale-down: shown as cancelled. */
  stopped: boolean;
}

/** The locally launched replicas, as job rows. */
export class LocalJobs implements JobsController {
  readonly #options: LocalJobsOptions;
  readonly #gpus: Map<string, string> | undefined;
  readonly #replicas = new Map<string, LocalReplica>();
  /** The models' records (desired replicas, stopped) in the system's KV; none without a KV store. */
  readonly #store: JobStore | undefined;
  #supervisor: Address | undefined;

  /** @param options the config, the actor system and the fleet the replicas join */
  constructor(options: LocalJobsOptions) {
    this.#options = options;
    this.#gpus = assignGpus(options.config.models, options.config.cluster.gpus);
    const kv = options.system.kv;
    this.#store = kv === undefined ? undefined : new JobStore(kv);
  }

  /** The replica supervisor's address, once a replica was started. */
  get supervisor(): Address | undefined {
    return this.#supervisor;
  }

  /**
   * Starts every launched model's replicas (what the gateway does at start): as many as its last
   * `scale` asked for, none after a `stop`, else the configured `replicas`.
   */
  async launchAll(): Promise<void> {
    for (const model of this.#launched()) {
      const record = await this.#store?.model(model.name);
      if (record?.stopped) continue;
      const desired = record?.desired ?? model.replicas;
      for (let i = 0; i < desired; i++) await this.#launch(model, i);
    }
  }

  async #remember(model: string, desired: number, stopped: boolean, reason: string) {
    await this.#store?.putModel({ model, desired, stopped, lastChangeMs: Date.now(), reason });
  }

  async start(models?: readonly string[]): Promise<JobStatusRow[]> {
    for (const model of this.#pick(models)) {
      for (let i = 0; i < model.replicas; i++) {
        const known = this.#replicas.get(`${model.name}/${i}`);
        if (!known || known.stopped) await this.#launch(model, i);
      }
      await this.#remember(model.name, model.replicas, false, "start");
    }
    return await this.status();
  }

  async scale(model: string, replicas: number): Promise<JobStatusRow[]> {
    const [config] = this.#pick([model]);
    if (!config) return await this.status();
    checkReplicas(config, replicas);
    const running = this.#running(model);
    for (let i = 0; this.#running(model).length < replicas; i++) {
      const known = this.#replicas.get(`${model}/${i}`);
      if (!known || known.stopped) await this.#launch(config, i);
    }
    for (
      const replica of running.sort((a, b) => b.index - a.index).slice(0, running.length - replicas)
    ) {
      await this.#stopReplica(replica);
    }
    await this.#remember(model, replicas, false, "scale");
    return await this.status();
  }

  async stop(model?: string): Promise<JobStatusRow[]> {
    for (const config of this.#pick(model === undefined ? undefined : [model])) {
      const record = await this.#store?.model(config.name);
      await this.#remember(config.name, record?.desired ?? config.replicas, true, "stop");
      for (const replica of this.#running(config.name)) await this.#stopReplica(replica);
    }
    return await this.status();
  }

  async status(): Promise<JobStatusRow[]> {
    const rows: JobStatusRow[] = [];
    for (const replica of this.#replicas.values()) rows.push(await this.#row(replica));
    return rows.sort((a, b) => a.model.localeCompare(b.model) || a.replica - b.replica);
  }

  #launched(): ModelConfig[] {
    return this.#options.config.models.filter((m) => m.endpoints === undefined);
  }

  #pick(models: readonly string[] | undefined): ModelConfig[] {
    const launched = this.#launched();
    if (models === undefined || models.length === 0) return launched;
    return models.map((name) => {
      const model = launched.find((m) => m.name === name);
      if (!model) {
        throw new JobsRequestError(
          `Unknown model "${name}": the launched models are ${
            launched.map((m) => `"${m.name}"`).join(", ") || "(none)"
          }`,
          "model_not_found",
        );
      }
      return model;
    });
  }

  #running(model: string): LocalReplica[] {
    return [...this.#replicas.values()].filter((r) => r.model.name === model && !r.stopped);
  }

  async #launch(model: ModelConfig, index: number): Promise<void> {
    const { system, config } = this.#options;
    this.#supervisor ??= system.spawn(replicaSupervisorBehavior(), "local").address;
    const id = `${model.name}/${index}`;
    const gpus = this.#gpus?.get(id);
    const env = { ...model.env, ...(gpus === undefined ? {} : { CUDA_VISIBLE_DEVICES: gpus }) };
    // A 0 is kept: the launcher picks the port and retries if it is taken before the bind.
    const port = this.#options.replicaPorts?.[model.name]?.[index] ?? model.base_port + index;
    await system.ref<ReplicaSupervisorMessage>(this.#supervisor).ask({
      type: "start",
      id,
      replica: {
        model,
        index,
        port,
        stateDir: config.state_dir,
        router: routerAddress(model.name),
        ...(Object.keys(env).length > 0 ? { env } : {}),
      },
    });
    this.#replicas.set(id, { model, index, id, sinceMs: Date.now(), stopped: false });
  }

  async #stopReplica(replica: LocalReplica): Promise<void> {
    const status = await this.#ask(replica);
    if (status) {
      await this.#options.fleet.removeBackend(backendIdFromUrl(status.url), replica.model.name);
    }
    if (this.#supervisor) {
      await this.#options.system.ref<ReplicaSupervisorMessage>(this.#supervisor).ask({
        type: "stop",
        id: replica.id,
      }, { timeoutMs: 30_000 });
    }
    replica.stopped = true;
    replica.sinceMs = Date.now();
  }

  async #ask(replica: LocalReplica): Promise<ReplicaStatus | undefined> {
    try {
      return await this.#options.system.ref<ReplicaMessage>(address(REPLICA_KIND, replica.id))
        .ask<ReplicaStatus>({ type: "status" }, { timeoutMs: 2_000 });
    } catch {
      // Between a crash and its restart (the supervisor's backoff) no actor answers.
      return undefined;
    }
  }

  async #row(replica: LocalReplica): Promise<JobStatusRow> {
    const status = replica.stopped ? undefined : await this.#ask(replica);
    const phase: JobStatusRow["phase"] = replica.stopped
      ? "cancelled"
      : status === undefined
      ? "backoff"
      : status.running
      ? "healthy"
      : "running";
    const port = status ? Number(new URL(status.url).port) : undefined;
    return {
      model: replica.model.name,
      replica: replica.index,
      jobId: status?.pid === undefined ? undefined : String(status.pid),
      kind: "local",
      phase,
      slurmState: undefined,
      partition: undefined,
      node: "localhost",
      pendingReason: undefined,
      pendingGroup: undefined,
      sinceMs: replica.sinceMs,
      endpoint: status?.running ? status.url : undefined,
      port,
      health: phase === "healthy"
        ? "healthy"
        : phase === "running"
        ? "starting"
        : phase === "backoff"
        ? "unhealthy"
        : "unknown",
      attempts: status?.starts ?? 0,
      lastError: undefined,
    };
  }
}

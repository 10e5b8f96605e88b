/**
 * The job actors run in the `deno task jobs` process itself, when no gateway answers: over the
 * config's cluster (here or over SSH) and its KV file, so the state they leave is the state the
 * next gateway re-attaches to.
 */
import type { Config } from "../../config/schema.ts";
import { kvPath } from "../../config/loader.ts";
import { ActorSystem } from "../../actors/runtime/mod.ts";
import type { JobsController } from "../../actors/job/types.ts";
import type { JobStatusRow } from "../../actors/job/types.ts";
import type { ClusterJobs } from "../../actors/job/controller.ts";
import { openClusterJobs } from "../../actors/job/open.ts";
import { type Cluster, openCluster } from "../slurm/connect.ts";

/** A config whose jobs cannot be run without a gateway, said with what to do instead. */
export class NoLocalJobsError extends Error {
  /** @param message why, and what to run instead */
  constructor(message: string) {
    super(message);
    this.name = "NoLocalJobsError";
  }
}

/** The job actors in this process. */
export interface LocalJobs {
  controller: JobsController;
  /** The KV file they keep their state in. */
  where: string;
  /** Stops the actors and closes the cluster connection and the KV file; the jobs keep running. */
  close(): Promise<void>;
}

/** The shortest time between two squeue polls a status read makes, in ms. */
const FRESH_POLL_MS = 2_000;
/** How long a status read waits for the actors to record what a poll saw, at most, in ms. */
const SETTLE_MS = 2_000;

/** Two reads of the rows that say the same. */
function sameRows(a: readonly JobStatusRow[], b: readonly JobStatusRow[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * `jobs` as the CLI drives them alone: `status` polls the cluster first (at most every
 * {@linkcode FRESH_POLL_MS}), since no gateway may have polled since the jobs last changed, and
 * reads the rows once the actors have recorded what it saw (two reads 150 ms apart alike, within
 * {@linkcode SETTLE_MS}).
 */
class FreshJobs implements JobsController {
  readonly #jobs: ClusterJobs;
  #polledAtMs = 0;

  constructor(jobs: ClusterJobs) {
    this.#jobs = jobs;
  }

  start(models?: readonly string[]) {
    return this.#jobs.start(models);
  }

  scale(model: string, replicas: number) {
    return this.#jobs.scale(model, replicas);
  }

  stop(model?: string) {
    return this.#jobs.stop(model);
  }

  async status(): Promise<JobStatusRow[]> {
    if (Date.now() - this.#polledAtMs < FRESH_POLL_MS) return await this.#jobs.status();
    this.#polledAtMs = Date.now();
    await this.#jobs.pollOnce();
    const deadline = Date.now() + SETTLE_MS;
    const pause = () => new Promise((resolve) => setTimeout(resolve, 150));
    await pause();
    let rows = await this.#jobs.status();
    while (Date.now() < deadline) {
      await pause();
      const next = await this.#jobs.status();
      if (sameRows(rows, next)) return next;
      rows = next;
    }
    return rows;
  }
}

/** Options of {@linkcode openLocalJobs}. */
export interface OpenLocalJobsOptions {
  /** A cluster connection to use (and leave open); one is opened (and closed) when absent. */
  cluster?: Cluster;
}

/**
 * Starts the job actors of `config` in this process. Their durable queue is left to the
 * gateways (`listen: false`): the CLI only drives the actors it runs, by their local mailboxes.
 */
export async function openLocalJobs(
  config: Config,
  options: OpenLocalJobsOptions = {},
): Promise<LocalJobs> {
  if (config.cluster.type !== "slurm") {
    throw new NoLocalJobsError(
      'cluster.type is "local": its replicas are processes of the gateway, so no gateway ' +
        "answers on proxy.port means none runs; `deno task serve` starts them, and `jobs " +
        "status` shows them while it runs",
    );
  }
  const path = kvPath(config);
  const cluster = options.cluster ?? await openCluster(config);
  const closeCluster = () => options.cluster ? Promise.resolve() : cluster.close();
  let system: ActorSystem | undefined;
  try {
    system = await ActorSystem.start({ kvPath: path, listen: false });
    const controller = await openClusterJobs(config, cluster, { system });
    const owned = system;
    return {
      controller: new FreshJobs(controller),
      where: path,
      async close() {
        await controller.close();
        await owned.shutdown({ deadlineMs: 5_000 });
        await closeCluster();
      },
    };
  } catch (error) {
    await system?.shutdown({ deadlineMs: 1_000 });
    await closeCluster();
    throw error;
  }
}

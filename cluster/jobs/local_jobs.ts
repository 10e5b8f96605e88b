/**
 * The job actors run in the `deno task jobs` process itself, when no gateway answers: over the
 * config's cluster (here or over SSH) and its KV file, so the state they leave is the state the
 * next gateway re-attaches to.
 */
import type { Config } from "../../config/schema.ts";
import { kvPath } from "../../config/loader.ts";
import { ActorSystem } from "../../actors/runtime/mod.ts";
import type { JobsController } from "../../actors/job/types.ts";
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
      controller,
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

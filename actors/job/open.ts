/**
 * Opens the job actors of a `cluster.type: slurm` config over a connected cluster (the `Shell`,
 * `Slurm` and `Tunnels` that cluster/slurm/connect.ts opens): the sbatch scripts rendered by
 * cluster/slurm/render.ts under `job_dir` (its `~` expanded on the cluster), PENDING reasons read
 * by cluster/slurm/parse.ts, and the gateway's router when one runs them.
 */
import type { Config } from "../../config/mod.ts";
import type { PartitionConfig } from "../../config/slurm_schema.ts";
import type { Shell, Slurm, Tunnels } from "../../cluster/slurm/types.ts";
import { neverClears, pendingGroupOf } from "../../cluster/slurm/parse.ts";
import { expandHome, jobName, renderSbatch } from "../../cluster/slurm/render.ts";
import type { ActorSystem } from "../runtime/mod.ts";
import { ClusterJobs } from "./controller.ts";
import type { ReplicaRouting } from "./driver.ts";
import { SlurmDriver } from "./slurm_driver.ts";

/** A connected cluster, as `openCluster(config)` answers it. */
export interface ConnectedCluster {
  shell: Shell;
  slurm: Slurm;
  tunnels: Tunnels;
}

/** Options of {@linkcode openClusterJobs}. */
export interface OpenClusterJobsOptions {
  /** The actor system the actors run in (with the config's KV store). */
  system: ActorSystem;
  /** The gateway's routers; absent when `deno task jobs` runs the actors alone. */
  routing?: ReplicaRouting;
  /** Requests waiting in the gateway's queue per model, for autoscaling. */
  queued?: (model: string) => number;
}

/** The cluster user's home, to expand `~` in `job_dir`. */
async function homeOf(shell: Shell): Promise<string> {
  const result = await shell.exec(["printenv", "HOME"]);
  const home = result.stdout.trim();
  if (result.code !== 0 || !home.startsWith("/")) {
    throw new Error(
      `Cannot read the home directory on ${shell.where} to place cluster.slurm.job_dir: ` +
        `${result.stderr.trim() || `"${home}"`}; give job_dir as an absolute path`,
    );
  }
  return home;
}

/**
 * The job actors of `config`'s launched models over `cluster`; nothing is submitted until
 * `resume` or `start`. Close the controller, then the cluster, when done.
 */
export async function openClusterJobs(
  config: Config,
  cluster: ConnectedCluster,
  options: OpenClusterJobsOptions,
): Promise<ClusterJobs> {
  const slurm = config.cluster.slurm;
  if (!slurm) throw new Error('cluster.slurm is required when cluster.type is "slurm"');
  const jobDir = slurm.job_dir.startsWith("~")
    ? expandHome(slurm.job_dir, await homeOf(cluster.shell))
    : slurm.job_dir;
  const partitionOf = (name: string): PartitionConfig => {
    const partition = slurm.partitions.find((p) => p.name === name);
    if (!partition) throw new Error(`Partition "${name}" is not in cluster.slurm.partitions`);
    return partition;
  };
  const modelOf = (name: string) => {
    const model = config.models.find((m) => m.name === name);
    if (!model) throw new Error(`Model "${name}" is not in the config`);
    return model;
  };
  const nameOf = (model: string, replica: number, key: string) => jobName({ model, replica, key });
  const driver = new SlurmDriver({
    slurm: cluster.slurm,
    tunnels: cluster.tunnels,
    routing: options.routing,
    render(job, effect) {
      const rendered = renderSbatch({
        model: modelOf(job.model),
        replica: job.replica,
        partition: partitionOf(effect.partition.name),
        key: effect.key,
        jobDir,
        signalLead: slurm.signal_lead,
        port: effect.port,
      });
      if (!rendered.ok) return { ok: false, reason: rendered.reason };
      return { ok: true, script: rendered.script };
    },
    jobName: (job, key) => nameOf(job.model, job.replica, key),
    logPaths(job) {
      if (job.key === undefined) return [];
      const base = `${jobDir}/${nameOf(job.model, job.replica, job.key)}`;
      return [`${base}.out`, `${base}.err`];
    },
  });
  return ClusterJobs.open({
    config,
    system: options.system,
    driver,
    pending: { groupOf: pendingGroupOf, neverClears },
    ...(options.queued ? { queued: options.queued } : {}),
  });
}

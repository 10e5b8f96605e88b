/**
 * The {@linkcode JobDriver} of `cluster.type: slurm`: sbatch/scancel/squeue/sacct through the
 * `Slurm` seam (CLI or slurmrestd, here or over SSH), health through a `Tunnels` forward to the
 * replica's node:port (the tunnel's local end is the backend URL), the replica's own log read for
 * a port it found taken, and the gateway's router for registration.
 */
import type { JobInfo, Slurm, SubmitResult, Tunnels } from "../../cluster/slurm/types.ts";
import { saysAddressInUse } from "../../cluster/ports.ts";
import type { HealthOutcome, JobDriver, ReplicaRouting, SubmitEffect } from "./driver.ts";
import { isEnded, type JobState } from "./machine.ts";

/** The rendered submit of one job, or why it cannot run on the partition (a refusal falls back). */
export type RenderedJob = { ok: true; script: string } | { ok: false; reason: string };

/** Options of {@linkcode SlurmDriver}. */
export interface SlurmDriverOptions {
  slurm: Slurm;
  tunnels: Tunnels;
  /** The gateway's router; absent when `deno task jobs` runs the actors alone. */
  routing?: ReplicaRouting | undefined;
  /** Renders a submit's sbatch script; its job name must carry `effect.key`. */
  render(job: JobState, effect: SubmitEffect): RenderedJob;
  /** The job name a submit with `key` gets, to find it again in squeue. */
  jobName(job: JobState, key: string): string;
  /** The current submit's output and error files on the cluster (read for a taken port; the first by `jobs logs`). */
  logPaths(job: JobState): string[];
  /** Time between health probes while a replica starts, in ms. @default 1000 */
  healthPollMs?: number;
}

async function probe(url: string, timeoutMs: number): Promise<boolean> {
  try {
    const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return response.status === 200;
  } catch {
    return false;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** Submits, watches and reaches replicas on a SLURM cluster. */
export class SlurmDriver implements JobDriver {
  readonly kind = "slurm" as const;
  readonly routing: ReplicaRouting | undefined;
  readonly #options: SlurmDriverOptions;

  /** @param options the cluster's seams and how jobs are rendered and named */
  constructor(options: SlurmDriverOptions) {
    this.#options = options;
    this.routing = options.routing;
  }

  /** The SLURM seam it drives. */
  get slurm(): Slurm {
    return this.#options.slurm;
  }

  submit(job: JobState, effect: SubmitEffect): Promise<SubmitResult> {
    const rendered = this.#options.render(job, effect);
    if (!rendered.ok) return Promise.resolve({ ok: false, error: rendered.reason });
    return this.#options.slurm.submit({
      script: rendered.script,
      partition: effect.partition.name,
      ...(effect.partition.qos === undefined ? {} : { qos: effect.partition.qos }),
      ...(effect.partition.account === undefined ? {} : { account: effect.partition.account }),
    });
  }

  cancel(jobId: string): Promise<void> {
    return this.#options.slurm.cancel(jobId);
  }

  async find(job: JobState, key: string): Promise<JobInfo | undefined> {
    const name = this.#options.jobName(job, key);
    const found = await this.#options.slurm.queue({ names: [name] });
    return found.find((info) => info.name === name && !isEnded(info.state)) ??
      found.find((info) => info.name === name);
  }

  backendId(job: JobState): string {
    return `${job.model}-r${job.replica}-${job.id}`.replace(/[^A-Za-z0-9._:-]/g, "_");
  }

  outputPath(job: JobState): string | undefined {
    return this.#options.logPaths(job)[0];
  }

  async waitHealthy(
    job: JobState,
    target: { node: string; port: number; deadlineMs: number },
    signal: AbortSignal,
  ): Promise<HealthOutcome> {
    const pollMs = this.#options.healthPollMs ?? 1_000;
    const tunnel = await this.#options.tunnels.forward(target.node, target.port);
    const logs = this.#options.logPaths(job);
    for (let round = 0; !signal.aborted; round++) {
      const left = target.deadlineMs - Date.now();
      if (await probe(tunnel.url, Math.max(100, Math.min(2_000, left)))) {
        return { type: "healthy", endpoint: tunnel.url };
      }
      if (round % 3 === 2 && await this.portTaken(job)) return { type: "port_in_use" };
      if (Date.now() >= target.deadlineMs) {
        return {
          type: "unhealthy",
          error: `the replica on ${target.node}:${target.port} did not answer 200 on /health ` +
            `within its startup_timeout${logs.length ? `; see ${logs.join(" and ")}` : ""}`,
        };
      }
      await sleep(Math.min(pollMs, Math.max(0, target.deadlineMs - Date.now())), signal);
    }
    return { type: "unhealthy", error: "the health wait was cancelled" };
  }

  async release(job: JobState): Promise<void> {
    if (job.node === undefined || job.port === undefined) return;
    // forward() answers the open tunnel of node:port, which closing removes.
    const tunnel = await this.#options.tunnels.forward(job.node, job.port);
    await tunnel.close();
  }

  async portTaken(job: JobState): Promise<boolean> {
    for (const path of this.#options.logPaths(job)) {
      const log = await this.#options.slurm.readFile(path).catch(() => "");
      if (saysAddressInUse(log)) return true;
    }
    return false;
  }

  /**
   * What squeue shows of `jobIds`, and sacct of those squeue no longer lists; an id in neither is
   * missing from the answer.
   */
  async poll(jobIds: readonly string[]): Promise<Map<string, JobInfo>> {
    const found = new Map<string, JobInfo>();
    if (jobIds.length === 0) return found;
    for (const info of await this.#options.slurm.queue({ jobIds })) found.set(info.jobId, info);
    const missing = jobIds.filter((id) => !found.has(id));
    if (missing.length > 0) {
      for (const info of await this.#options.slurm.accounting(missing)) {
        if (!found.has(info.jobId)) found.set(info.jobId, info);
      }
    }
    return found;
  }
}

/**
 * What a JobActor does to the outside world, behind one interface: submit, cancel and find jobs,
 * wait for a replica's health, register and retire its backend. The SLURM driver
 * (slurm_driver.ts) does it through the `Slurm` and `Tunnels` seams and the gateway's router.
 */
import type { JobInfo, SubmitResult } from "../../cluster/slurm/types.ts";
import type { JobEffect, JobState } from "./machine.ts";

/** A submit effect. */
export type SubmitEffect = Extract<JobEffect, { type: "submit" }>;

/** How a health wait ended. */
export type HealthOutcome =
  | { type: "healthy"; endpoint: string }
  | { type: "unhealthy"; error: string }
  | { type: "port_in_use" };

/** The gateway's routers, as the job actors use them; absent when no gateway runs (`deno task jobs` alone). */
export interface ReplicaRouting {
  /** Adds the replica as a launched backend of `model`. */
  register(model: string, id: string, url: string): Promise<void>;
  /** Removes it (no new requests); resolves to a reader of the requests still in flight on it. */
  retire(model: string, id: string): Promise<() => number>;
  /** The healthy replicas' load by backend id, for autoscaling; undefined when unknown. */
  load?(model: string): Map<string, ReplicaLoadReport>;
}

/** One backend's load as the router sees it. */
export interface ReplicaLoadReport {
  waiting: number | undefined;
  kvUsage: number | undefined;
  inFlight: number;
  /** Sessions whose requests went there recently. */
  sessions: number;
}

/** The outside world of the job actors. */
export interface JobDriver {
  /** `slurm` or `local`, for the status rows. */
  readonly kind: "slurm" | "local";
  /** Submits the job (its name carries `effect.key`); rejects only when the reply was lost. */
  submit(job: JobState, effect: SubmitEffect): Promise<SubmitResult>;
  cancel(jobId: string): Promise<void>;
  /** The live job whose name carries `key`, if squeue shows one. */
  find(job: JobState, key: string): Promise<JobInfo | undefined>;
  /** Waits until the replica answers `/health` (through a tunnel when needed), or why not. */
  waitHealthy(
    job: JobState,
    target: { node: string; port: number; deadlineMs: number },
    signal: AbortSignal,
  ): Promise<HealthOutcome>;
  /** Lets go of what reaching the replica of `job` (its node and port) held: its tunnel. */
  release(job: JobState): Promise<void>;
  /** Whether the job's own log says its port was taken on the node (read when it ended early). */
  portTaken(job: JobState): Promise<boolean>;
  /** The backend id a job's replica is routed under: the same for every submit of one record. */
  backendId(job: JobState): string;
  /** Where the job writes its output, for `jobs logs`. */
  outputPath(job: JobState): string | undefined;
  /**
   * What the cluster shows of `jobIds` now (squeue, then sacct for those it no longer lists); an
   * id in neither is absent from the map.
   */
  poll(jobIds: readonly string[]): Promise<Map<string, JobInfo>>;
  /** The router, when a gateway runs the actors. */
  readonly routing: ReplicaRouting | undefined;
}

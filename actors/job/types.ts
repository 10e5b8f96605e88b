/**
 * The seam between the job actors (JobActor per SLURM job or local replica, ModelActor per model)
 * and what drives them: `deno task jobs`, the gateway's `/api/jobs`, the dashboards.
 */
import type { PendingGroup, SlurmState } from "../../cluster/slurm/types.ts";

/** The states of design.md section 4's job state machine. */
export const JOB_PHASES = [
  "planned",
  "submitted",
  "pending",
  "running",
  "healthy",
  "draining",
  "backoff",
  "cancelling",
  "cancelled",
  "failed",
] as const;

/** One phase of a job. */
export type JobPhase = typeof JOB_PHASES[number];

/** One row of `jobs status` (and of `GET /api/jobs`), for one replica of one model. */
export interface JobStatusRow {
  model: string;
  /** The replica index within the model. */
  replica: number;
  /** SLURM's job id, or the local process id for `cluster.type: local`; undefined before submit. */
  jobId: string | undefined;
  /** `slurm` or `local`. */
  kind: "slurm" | "local";
  phase: JobPhase;
  /** SLURM's own state, when SLURM reported one. */
  slurmState: SlurmState | undefined;
  partition: string | undefined;
  node: string | undefined;
  /** For PENDING: SLURM's reason and its group. */
  pendingReason: string | undefined;
  pendingGroup: PendingGroup | undefined;
  /** When it entered its phase, ms since the epoch. */
  sinceMs: number;
  /** The backend URL the router uses (a tunnel's local end over SSH). */
  endpoint: string | undefined;
  /**
   * The replica's port on `node` (`base_port + replica`, moved on when it was taken), which
   * `jobs connect` forwards a local port to; optional: absent, `endpoint`'s port is used.
   */
  port?: number | undefined;
  /** The job's output file on the cluster (`%x-%j.out` under `job_dir`), for `jobs logs`. */
  outputPath?: string | undefined;
  /** `healthy`, `starting`, `unhealthy`, `unknown`. */
  health: "healthy" | "starting" | "unhealthy" | "unknown";
  /** Submit attempts so far. */
  attempts: number;
  /** The last failure (sbatch's error, a FAILED state, a start timeout), when there was one. */
  lastError: string | undefined;
}

/** What drives the job actors, the same whether a gateway process or the CLI alone runs them. */
export interface JobsController {
  /** Submits what the config asks for (each model's `replicas`); jobs already running are kept. */
  start(models?: readonly string[]): Promise<JobStatusRow[]>;
  /** Sets a model's desired replicas (within its autoscale bounds when it has them). */
  scale(model: string, replicas: number): Promise<JobStatusRow[]>;
  /** Drains from the router, then cancels; every model when none is given. */
  stop(model?: string): Promise<JobStatusRow[]>;
  status(): Promise<JobStatusRow[]>;
}

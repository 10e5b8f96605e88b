/**
 * The seams of the SLURM layer: a shell that runs commands (here or on the login node over SSH),
 * the SLURM operations turnpike needs (over the CLI or slurmrestd, one interface), the typed job
 * records its parsers produce, and the local port forwards to replicas on cluster nodes.
 */

/** Every job state SLURM reports (squeue `%T`, sacct `State` without its "by <uid>" suffix). */
export const SLURM_STATES = [
  "BOOT_FAIL",
  "CANCELLED",
  "COMPLETED",
  "COMPLETING",
  "CONFIGURING",
  "DEADLINE",
  "FAILED",
  "NODE_FAIL",
  "OUT_OF_MEMORY",
  "PENDING",
  "PREEMPTED",
  "REQUEUED",
  "REQUEUE_FED",
  "REQUEUE_HOLD",
  "RESIZING",
  "RESV_DEL_HOLD",
  "REVOKED",
  "RUNNING",
  "SIGNALING",
  "SPECIAL_EXIT",
  "STAGE_OUT",
  "STOPPED",
  "SUSPENDED",
  "TIMEOUT",
] as const;

/** One SLURM job state. */
export type SlurmState = typeof SLURM_STATES[number];

/** Why a PENDING job waits, as `jobs status` groups SLURM's reasons for users. */
export type PendingGroup = "quota" | "resources" | "held" | "dependency" | "priority" | "other";

/** One job as squeue, sacct or slurmrestd reports it, parsed into typed values. */
export interface JobInfo {
  jobId: string;
  /** The job name (`--job-name`), which carries turnpike's model, replica and idempotency key. */
  name: string;
  state: SlurmState;
  /** squeue's reason (`None` is left out); for PENDING the reason it waits. */
  reason?: string;
  partition?: string;
  /** The node list (`localhost`, `gpu[01-02]`); empty while pending. */
  nodes?: string;
  /** The first node of `nodes`, where a replica's port is. */
  node?: string;
  submitTime?: Date;
  startTime?: Date;
  endTime?: Date;
  /** The time limit in seconds; undefined for UNLIMITED. */
  timeLimitSeconds?: number;
  /** `exit:signal` as SLURM writes it, for finished jobs. */
  exitCode?: string;
}

/** What a submit answers: the job id, or sbatch's own error text. */
export type SubmitResult =
  | { ok: true; jobId: string }
  | { ok: false; error: string };

/** The result of one command run by a {@linkcode Shell}. */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs commands where SLURM's commands are: this machine, or the login node over SSH. */
export interface Shell {
  /** Where it runs, for messages (`local`, `alice@login.example.org:22`). */
  readonly where: string;
  /**
   * Runs `argv` (words, quoted for a remote shell by the implementation), with `stdin` written
   * and closed when given. Rejects only when the command could not be run at all (connection
   * lost and not re-established); a non-zero exit is a result.
   */
  exec(
    argv: readonly string[],
    options?: { stdin?: string; signal?: AbortSignal },
  ): Promise<ExecResult>;
  /**
   * Runs `argv` and hands its stdout to `onData` as it arrives, until it exits or `signal`
   * aborts (for `jobs logs --follow`: `tail -F`). Resolves to the exit code.
   */
  stream(
    argv: readonly string[],
    onData: (chunk: string) => void,
    options?: { signal?: AbortSignal },
  ): Promise<number>;
  close(): Promise<void>;
}

/** A submit: the rendered script (sent on sbatch's stdin) and the options outside it. */
export interface SubmitRequest {
  script: string;
  /** Overrides of `#SBATCH` lines, passed on the command line (a partition fallback sets these). */
  partition?: string;
  qos?: string;
  account?: string;
}

/** The SLURM operations turnpike uses, behind one interface for the CLI and slurmrestd. */
export interface Slurm {
  /** `cli` (sbatch/squeue/sacct/scancel through a {@linkcode Shell}) or `rest` (slurmrestd). */
  readonly kind: "cli" | "rest";
  submit(request: SubmitRequest): Promise<SubmitResult>;
  /** Live jobs of the user (squeue), filtered by job ids or names when given. */
  queue(filter?: { jobIds?: readonly string[]; names?: readonly string[] }): Promise<JobInfo[]>;
  /**
   * Jobs from accounting (sacct -X), including finished ones squeue no longer shows. sacct lags a
   * few seconds: placeholder rows (name `allocation`, no partition) are left out, not returned.
   */
  accounting(jobIds: readonly string[]): Promise<JobInfo[]>;
  /** scancel; `signal` sends that signal instead of ending the job. */
  cancel(jobId: string, options?: { signal?: string }): Promise<void>;
  /** Reads a file on the cluster (a job's output), from byte `offset`. */
  readFile(path: string, offset?: number): Promise<string>;
  /**
   * The cluster user's home directory, to make `job_dir`'s `~` absolute before rendering (sbatch
   * does not expand `~` in `--output`). Optional: without it, give `job_dir` as an absolute path.
   */
  home?(): Promise<string>;
  close(): Promise<void>;
}

/** A local port forward to a replica on a cluster node. */
export interface Tunnel {
  /** `http://127.0.0.1:<localPort>`: the backend's URL. */
  readonly url: string;
  readonly localPort: number;
  readonly remoteHost: string;
  readonly remotePort: number;
  close(): Promise<void>;
}

/** Opens local port forwards (over SSH, or none needed when the nodes are reachable). */
export interface Tunnels {
  /** Opens, or returns the open, forward to `remoteHost:remotePort`; re-opened when it drops. */
  forward(
    remoteHost: string,
    remotePort: number,
    options?: { localPort?: number },
  ): Promise<Tunnel>;
  close(): Promise<void>;
}

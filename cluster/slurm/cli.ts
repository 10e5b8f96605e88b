/** {@linkcode CliSlurm}: SLURM through its commands (sbatch, squeue, sacct, scancel) on any {@linkcode Shell}, here or on the login node. */
import type { JobInfo, Shell, Slurm, SubmitRequest, SubmitResult } from "./types.ts";
import {
  parseSacct,
  parseSqueue,
  SACCT_FORMAT,
  sbatchFailureKind,
  SLURM_TIME_FORMAT,
  SQUEUE_FORMAT,
} from "./parse.ts";
import { outputDirsOf } from "./render.ts";

/** A SLURM command that failed for a reason other than the job's own (slurmctld down, no sacct). */
export class SlurmCommandError extends Error {
  /** @param command the command line, @param code its exit code, @param stderr what it said */
  constructor(readonly command: string, readonly code: number, readonly stderr: string) {
    super(`${command} failed (exit ${code}): ${stderr.trim() || "no output"}`);
    this.name = "SlurmCommandError";
  }
}

/** scancel's words for a job that has ended already: cancelling it again is done, not an error. */
const ALREADY_DONE = /already completing or completed|Invalid job id specified/i;

/** tail's words for a file that does not exist yet (a job not started): nothing to read so far. */
const NO_FILE = /No such file or directory/;

/**
 * The SLURM operations over the CLI. Commands run through the shell it is given (a
 * {@linkcode LocalShell} or the SSH shell); it does not own the shell and leaves it open on close.
 */
export class CliSlurm implements Slurm {
  readonly kind = "cli" as const;
  readonly #shell: Shell;

  /** @param shell where SLURM's commands run */
  constructor(shell: Shell) {
    this.#shell = shell;
  }

  /** Where its commands run, for messages. */
  get where(): string {
    return this.#shell.where;
  }

  /**
   * `sbatch --parsable` with the script on stdin and the request's overrides as options; the
   * directories of the script's `--output` files are created first (sbatch does not, and a job
   * whose output cannot be opened fails without a word). A refusal carries sbatch's own text;
   * when sbatch could not get slurmctld's answer (a timeout: the job may be queued all the same)
   * it rejects with a {@linkcode SlurmCommandError}, so the caller looks for the job by name.
   */
  async submit(request: SubmitRequest): Promise<SubmitResult> {
    const dirs = outputDirsOf(request.script);
    if (dirs.length > 0) {
      const made = await this.#shell.exec(["mkdir", "-p", "--", ...dirs]);
      if (made.code !== 0) {
        return {
          ok: false,
          error: `cannot create the job directory on ${this.#shell.where}: ${
            made.stderr.trim() || `mkdir exited with ${made.code}`
          }`,
        };
      }
    }
    const argv = ["sbatch", "--parsable"];
    if (request.partition !== undefined) argv.push(`--partition=${request.partition}`);
    if (request.qos !== undefined) argv.push(`--qos=${request.qos}`);
    if (request.account !== undefined) argv.push(`--account=${request.account}`);
    const result = await this.#shell.exec(argv, { stdin: request.script });
    // `--parsable` prints `jobid` or `jobid;cluster`.
    const jobId = result.stdout.trim().split("\n").pop()?.split(";")[0]?.trim() ?? "";
    if (result.code === 0 && /^\d+(_\d+)?$/.test(jobId)) return { ok: true, jobId };
    const error = result.stderr.trim() || result.stdout.trim() ||
      `sbatch exited with ${result.code}`;
    if (sbatchFailureKind(error) === "unreachable") {
      throw new SlurmCommandError(argv.join(" "), result.code, result.stderr);
    }
    return { ok: false, error };
  }

  /**
   * The user's jobs as `squeue --me --states=all` shows them: live ones, and those that ended
   * within slurmctld's MinJobAge with their final state. Filtered here by ids or names (squeue's
   * own `-j` fails outright on an id it no longer knows).
   */
  async queue(
    filter: { jobIds?: readonly string[]; names?: readonly string[] } = {},
  ): Promise<JobInfo[]> {
    const text = await this.#run([
      "squeue",
      "--me",
      "--noheader",
      "--states=all",
      `--format=${SQUEUE_FORMAT}`,
    ]);
    const ids = filter.jobIds ? new Set(filter.jobIds) : undefined;
    const names = filter.names ? new Set(filter.names) : undefined;
    return parseSqueue(text).filter((job) =>
      (ids === undefined || ids.has(job.jobId)) && (names === undefined || names.has(job.name))
    );
  }

  /** `sacct -X -P -n` for the ids; rows sacct has not settled yet (its lag) are left out. */
  async accounting(jobIds: readonly string[]): Promise<JobInfo[]> {
    if (jobIds.length === 0) return [];
    const text = await this.#run([
      "sacct",
      "-X",
      "-P",
      "-n",
      `--format=${SACCT_FORMAT}`,
      `--jobs=${jobIds.join(",")}`,
    ]);
    return parseSacct(text);
  }

  /**
   * `scancel`; with `signal`, `scancel --batch --signal=SIG`: the signal goes to the batch shell,
   * whose wrapper (render.ts) passes TERM and INT on to the server and notes USR1. Cancelling a
   * job that has ended already succeeds.
   */
  async cancel(jobId: string, options: { signal?: string } = {}): Promise<void> {
    const argv = options.signal === undefined
      ? ["scancel", jobId]
      : ["scancel", "--batch", `--signal=${options.signal}`, jobId];
    const result = await this.#shell.exec(argv);
    if (result.code !== 0 && !ALREADY_DONE.test(result.stderr)) {
      throw new SlurmCommandError(argv.join(" "), result.code, result.stderr);
    }
  }

  /**
   * A file on the cluster from byte `offset` (`tail -c +N`), decoded as UTF-8; empty while it does
   * not exist. Advance the offset by the bytes read (`new TextEncoder().encode(text).length`).
   */
  async readFile(path: string, offset = 0): Promise<string> {
    const start = Math.max(0, Math.floor(offset)) + 1;
    const result = await this.#shell.exec(["tail", "-c", `+${start}`, "--", path]);
    if (result.code === 0) return result.stdout;
    if (NO_FILE.test(result.stderr)) return "";
    throw new SlurmCommandError(`tail -c +${start} ${path}`, result.code, result.stderr);
  }

  /** The cluster user's home directory, to expand `~` in `job_dir` (sbatch does not). */
  async home(): Promise<string> {
    const home = (await this.#run(["printenv", "HOME"])).trim();
    if (!home.startsWith("/")) {
      throw new SlurmCommandError("printenv HOME", 0, `not an absolute path: "${home}"`);
    }
    return home;
  }

  /** Nothing of its own to close; the shell is its owner's. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Runs a query command with epoch times; its stdout, or a {@linkcode SlurmCommandError}. */
  async #run(argv: string[]): Promise<string> {
    const result = await this.#shell.exec([
      "env",
      `SLURM_TIME_FORMAT=${SLURM_TIME_FORMAT}`,
      ...argv,
    ]);
    if (result.code !== 0) throw new SlurmCommandError(argv.join(" "), result.code, result.stderr);
    return result.stdout;
  }
}

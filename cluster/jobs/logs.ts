/** `jobs logs JOB [--follow]`: finds a job's output file on the cluster and prints it. */
import type { JobStatusRow } from "../../actors/job/types.ts";
import type { Shell, Slurm } from "../slurm/types.ts";

/** What the JOB argument names. */
export type JobRef =
  | { kind: "id"; jobId: string }
  | { kind: "replica"; model: string; replica: number }
  | { kind: "name"; name: string };

/** Reads JOB: a SLURM job id (`42`, `42_3` for an array task), `MODEL/REPLICA`, or a job name. */
export function parseJobRef(text: string): JobRef {
  if (/^\d+(_\d+)?$/.test(text)) return { kind: "id", jobId: text };
  const replica = /^(.+)\/(\d+)$/.exec(text);
  if (replica) return { kind: "replica", model: replica[1]!, replica: Number(replica[2]) };
  return { kind: "name", name: text };
}

/**
 * The path of `field` (`StdOut`, `StdErr`) in `scontrol show job -o` output, undefined when it has
 * none. The value runs to the next ` Key=` (a path with a space in it stays whole).
 */
export function scontrolPath(
  scontrolOutput: string,
  field: "StdOut" | "StdErr",
): string | undefined {
  const match = new RegExp(`(?:^|\\s)${field}=(.*?)(?=\\s+[A-Za-z:/_]+=|\\s*$)`, "m")
    .exec(scontrolOutput);
  const path = match?.[1]?.trim();
  return path === undefined || path === "" || path === "(null)" ? undefined : path;
}

/** A JOB that names nothing SLURM or the rows know: said with what to try. */
export class JobNotFoundError extends Error {
  /** @param message what was not found and what to try */
  constructor(message: string) {
    super(message);
    this.name = "JobNotFoundError";
  }
}

/** Where a job's output is, found from the rows, squeue or scontrol. */
export interface ResolvedLog {
  jobId: string;
  /** Its output file, then its error file when that is another one. */
  paths: string[];
}

/** What {@linkcode resolveLog} reads from. */
export interface LogSources {
  shell: Shell;
  slurm: Slurm;
  /** The rows of `jobs status`, read only when JOB is `MODEL/REPLICA`. */
  rows: () => Promise<JobStatusRow[]>;
}

/** Finds JOB's job id and output files. */
export async function resolveLog(ref: JobRef, sources: LogSources): Promise<ResolvedLog> {
  let jobId: string;
  let known: string | undefined;
  if (ref.kind === "id") jobId = ref.jobId;
  else if (ref.kind === "replica") {
    const rows = await sources.rows();
    const row = rows.find((r) => r.model === ref.model && r.replica === ref.replica);
    if (row?.jobId === undefined) {
      const listed = rows.map((r) => `${r.model}/${r.replica}`).join(", ") || "none";
      throw new JobNotFoundError(
        row === undefined
          ? `No replica ${ref.model}/${ref.replica} (replicas: ${listed}); \`deno task jobs status\` lists them`
          : `Replica ${ref.model}/${ref.replica} has no job yet (${row.phase})`,
      );
    }
    jobId = row.jobId;
    known = row.outputPath;
  } else {
    const jobs = await sources.slurm.queue({ names: [ref.name] });
    const job = jobs.sort((a, b) => Number(b.jobId) - Number(a.jobId))[0];
    if (job === undefined) {
      throw new JobNotFoundError(
        `squeue shows no job named "${ref.name}"; give its job id, or MODEL/REPLICA as \`deno task jobs status\` lists them`,
      );
    }
    jobId = job.jobId;
  }
  // SLURM's own word first (it is where the job really writes); the row's path once SLURM forgot it.
  const shown = await sources.shell.exec(["scontrol", "show", "job", "-o", jobId]);
  const out = (shown.code === 0 ? scontrolPath(shown.stdout, "StdOut") : undefined) ?? known;
  if (out === undefined) {
    const why = shown.stderr.trim() || shown.stdout.trim() || `exit ${shown.code}`;
    throw new JobNotFoundError(
      `SLURM does not say where job ${jobId}'s output is (scontrol show job: ${why}); ` +
        "a job that ended more than MinJobAge ago is forgotten: its output stays under " +
        "cluster.slurm.job_dir",
    );
  }
  const err = shown.code === 0 ? scontrolPath(shown.stdout, "StdErr") : undefined;
  return { jobId, paths: err === undefined || err === out ? [out] : [out, err] };
}

/** Options of {@linkcode printLog}. */
export interface PrintLogOptions {
  /** Keep printing what is appended (`tail -F`) until `signal` aborts. */
  follow: boolean;
  signal?: AbortSignal;
  /** Gets the text. @default writes to stdout */
  write?: (text: string) => void;
}

const encoder = new TextEncoder();

function writeStdout(text: string): void {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}

/**
 * Prints the files at `paths` on the cluster (each after a `==> path <==` line when there are
 * several, as tail writes them): read whole with `Slurm.readFile`, or with `follow` streamed
 * through `tail -F` (from the first line; it waits for a file not written yet) until `signal`
 * aborts. Resolves to the exit code: 0, or tail's when it ended by itself.
 */
export async function printLog(
  paths: readonly string[],
  sources: Pick<LogSources, "shell" | "slurm">,
  options: PrintLogOptions,
): Promise<number> {
  const write = options.write ?? writeStdout;
  if (!options.follow) {
    for (const [i, path] of paths.entries()) {
      const text = await sources.slurm.readFile(path);
      if (paths.length > 1) write(`${i === 0 ? "" : "\n"}==> ${path} <==\n`);
      write(text);
    }
    return 0;
  }
  const code = await sources.shell.stream(
    ["tail", "-n", "+1", "-F", ...paths],
    write,
    options.signal === undefined ? {} : { signal: options.signal },
  );
  return options.signal?.aborted ? 0 : code;
}

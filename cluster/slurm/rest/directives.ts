/**
 * The `#SBATCH` lines of a batch script as job properties: slurmrestd (22.05's v0.0.38 at least,
 * checked on the testbed) runs the script without reading them, so the REST client sends them as
 * the submit request's fields.
 */
import { parseSlurmDuration } from "../duration.ts";

/** The job properties turnpike's scripts set, independent of the REST API version. */
export interface JobDirectives {
  name?: string;
  partition?: string;
  qos?: string;
  account?: string;
  reservation?: string;
  constraints?: string;
  /** Minutes; undefined for no limit of the job's own. */
  timeLimitMinutes?: number;
  standardOutput?: string;
  standardError?: string;
  workingDirectory?: string;
  nodes?: number;
  tasks?: number;
  tasksPerNode?: number;
  cpusPerTask?: number;
  /** `gpu:2`, as `--gres` takes it. */
  gres?: string;
  /** Memory per node in MB. */
  memoryMb?: number;
  /** `B:USR1@300`, as `--signal` takes it. */
  signal?: string;
  openMode?: "append" | "truncate";
  requeue?: boolean;
  exclusive?: boolean;
}

/** A `#SBATCH` option the REST client can not pass on. */
export class DirectiveError extends Error {
  override name = "DirectiveError";
}

const SHORT: Record<string, string> = {
  J: "job-name",
  p: "partition",
  q: "qos",
  A: "account",
  t: "time",
  o: "output",
  e: "error",
  D: "chdir",
  N: "nodes",
  n: "ntasks",
  c: "cpus-per-task",
  C: "constraint",
};

/**
 * Reads the `#SBATCH` lines before the first command, as sbatch does (later ones are comments).
 * Throws {@linkcode DirectiveError} naming an option it does not know.
 */
export function parseDirectives(script: string): JobDirectives {
  const directives: JobDirectives = {};
  for (const line of script.split("\n").slice(script.startsWith("#!") ? 1 : 0)) {
    const text = line.trim();
    if (text === "") continue;
    if (!text.startsWith("#")) break;
    const match = /^#SBATCH\s+(.*)$/.exec(text);
    if (match?.[1]) applyOption(directives, match[1].trim());
  }
  return directives;
}

function applyOption(into: JobDirectives, option: string): void {
  const long = /^--([a-z-]+)(?:[=\s]\s*(.*))?$/.exec(option);
  const short = /^-([A-Za-z])\s*(.*)$/.exec(option);
  const key = long?.[1] ?? SHORT[short?.[1] ?? ""];
  const value = unquote((long ? long[2] : short?.[2]) ?? "");
  if (key === undefined) throw new DirectiveError(`Cannot read #SBATCH ${option}`);
  const set = SETTERS[key];
  if (!set) {
    throw new DirectiveError(
      `#SBATCH --${key} has no slurmrestd field turnpike passes on; use cluster.slurm.api: cli`,
    );
  }
  set(into, value, option);
}

type Setter = (into: JobDirectives, value: string, option: string) => void;

const SETTERS: Record<string, Setter> = {
  "job-name": (d, v) => d.name = v,
  partition: (d, v) => d.partition = v,
  qos: (d, v) => d.qos = v,
  account: (d, v) => d.account = v,
  reservation: (d, v) => d.reservation = v,
  constraint: (d, v) => d.constraints = v,
  output: (d, v) => d.standardOutput = v,
  error: (d, v) => d.standardError = v,
  chdir: (d, v) => d.workingDirectory = v,
  gres: (d, v) => d.gres = v,
  signal: (d, v) => d.signal = v,
  "open-mode": (d, v, o) => {
    if (v !== "append" && v !== "truncate") throw new DirectiveError(`Cannot read #SBATCH ${o}`);
    d.openMode = v;
  },
  requeue: (d) => d.requeue = true,
  "no-requeue": (d) => d.requeue = false,
  exclusive: (d) => d.exclusive = true,
  time: (d, v, o) => {
    const seconds = parseSlurmDuration(v);
    if (seconds === undefined) throw new DirectiveError(`Cannot read the time of #SBATCH ${o}`);
    if (seconds === null) delete d.timeLimitMinutes;
    else d.timeLimitMinutes = Math.ceil(seconds / 60);
  },
  nodes: (d, v, o) => d.nodes = count(v, o),
  ntasks: (d, v, o) => d.tasks = count(v, o),
  "ntasks-per-node": (d, v, o) => d.tasksPerNode = count(v, o),
  "cpus-per-task": (d, v, o) => d.cpusPerTask = count(v, o),
  "gpus-per-node": (d, v, o) => d.gres = `gpu:${count(v.replace(/^.*:/, ""), o)}`,
  mem: (d, v, o) => d.memoryMb = megabytes(v, o),
  // Turnpike's scripts export the submitter's environment; REST jobs get the request's.
  export: () => {},
};

function count(value: string, option: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new DirectiveError(`#SBATCH ${option} needs a positive whole number`);
  }
  return n;
}

function megabytes(value: string, option: string): number {
  const match = /^(\d+)([KMGT]?)$/i.exec(value);
  if (!match) throw new DirectiveError(`Cannot read the memory of #SBATCH ${option}`);
  const scale: Record<string, number> = { K: 1 / 1024, "": 1, M: 1, G: 1024, T: 1024 * 1024 };
  return Math.ceil(Number(match[1]) * (scale[(match[2] ?? "").toUpperCase()] ?? 1));
}

function unquote(value: string): string {
  const text = value.trim();
  const quoted = /^"(.*)"$/.exec(text) ?? /^'(.*)'$/.exec(text);
  return quoted?.[1] ?? text;
}

/**
 * Parses squeue and sacct output (the fixed formats below) into typed {@linkcode JobInfo}s, and
 * reads SLURM's PENDING reasons: the group `jobs status` shows, and whether one never clears.
 */
import { type JobInfo, type PendingGroup, SLURM_STATES, type SlurmState } from "./types.ts";
import { parseSlurmDuration } from "./duration.ts";

/**
 * squeue's `-o` format: job id, state, reason, partition, nodes, submit, start and end time, time
 * limit, then the name last, so a `|` inside a name cannot shift the other fields.
 */
export const SQUEUE_FORMAT = "%i|%T|%r|%P|%N|%V|%S|%e|%l|%j";
/** sacct's `--format` fields (with `-X -P -n`), the name last for the same reason. */
export const SACCT_FORMAT =
  "JobID,State,Reason,Partition,NodeList,Submit,Start,End,Timelimit,ExitCode,JobName";
/**
 * `SLURM_TIME_FORMAT` for squeue and sacct: epoch seconds, so no time zone is guessed (the
 * login node's local time is not the gateway's). ISO local times are still read.
 */
export const SLURM_TIME_FORMAT = "%s";

/** A line of squeue or sacct output that is not in the expected format. */
export class SlurmParseError extends Error {
  /** @param message what is wrong, @param line the line as SLURM printed it */
  constructor(message: string, readonly line: string) {
    super(`${message}: ${JSON.stringify(line)}`);
    this.name = "SlurmParseError";
  }
}

const STATE_SET: ReadonlySet<string> = new Set(SLURM_STATES);

/**
 * A job state from squeue's `%T` or sacct's `State` (`CANCELLED by 1000` is CANCELLED);
 * undefined for a word SLURM does not use.
 */
export function parseState(text: string): SlurmState | undefined {
  const word = text.trim().split(/\s+/)[0]?.replace(/\+$/, "") ?? "";
  return STATE_SET.has(word) ? word as SlurmState : undefined;
}

const FINISHED: ReadonlySet<SlurmState> = new Set<SlurmState>([
  "BOOT_FAIL",
  "CANCELLED",
  "COMPLETED",
  "DEADLINE",
  "FAILED",
  "NODE_FAIL",
  "OUT_OF_MEMORY",
  "PREEMPTED",
  "REVOKED",
  "SPECIAL_EXIT",
  "TIMEOUT",
]);

/**
 * True when a job in `state` has ended and will not run again by itself (a PREEMPTED job that
 * SLURM requeues shows REQUEUED or PENDING next, not PREEMPTED).
 */
export function isFinished(state: SlurmState): boolean {
  return FINISHED.has(state);
}

/**
 * A time as squeue/sacct print it: epoch seconds (with `SLURM_TIME_FORMAT=%s`) or an ISO local
 * time (`2026-12-03T09:36:57`, read in this process's time zone); undefined for `N/A`, `NONE`,
 * `Unknown`, `None` and empty.
 */
export function parseSlurmTime(text: string): Date | undefined {
  const value = text.trim();
  if (/^\d+$/.test(value)) return value === "0" ? undefined : new Date(Number(value) * 1000);
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(value)) {
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? undefined : date;
  }
  return undefined;
}

/**
 * The first host of a SLURM host list, where a replica's port is: `gpu[01-03,05]` gives
 * `gpu01`, `a1,b2` gives `a1`, `rack[2-3]-n[07-08]` gives `rack2-n07`. Undefined for an empty
 * list, `None assigned` or `(null)`.
 */
export function firstNode(nodes: string): string | undefined {
  const list = nodes.trim();
  if (list === "" || list === "None assigned" || list === "(null)") return undefined;
  let depth = 0;
  let end = list.length;
  for (let i = 0; i < list.length; i++) {
    const c = list[i];
    if (c === "[") depth++;
    else if (c === "]") depth--;
    else if (c === "," && depth === 0) {
      end = i;
      break;
    }
  }
  // Each bracket group holds ranges and single numbers; the first host takes the first of each.
  return list.slice(0, end).replace(/\[([^\]]*)\]/g, (_, inner: string) => {
    const first = inner.split(",")[0] ?? "";
    return first.split("-")[0] ?? "";
  });
}

function reasonOf(text: string): string | undefined {
  const reason = text.trim();
  return reason === "" || reason === "None" || reason === "(null)" ? undefined : reason;
}

/** The fields of squeue's {@linkcode SQUEUE_FORMAT} and sacct's {@linkcode SACCT_FORMAT}, in order. */
const SQUEUE_FIELDS = [
  "jobId",
  "state",
  "reason",
  "partition",
  "nodes",
  "submit",
  "start",
  "end",
  "limit",
  "name",
] as const;
const SACCT_FIELDS = [...SQUEUE_FIELDS.slice(0, -1), "exitCode", "name"] as const;

type Row = Record<(typeof SQUEUE_FIELDS)[number], string> & { exitCode?: string };

/** Splits a `|`-separated line into named fields; the last (the name) may itself hold `|`. */
function rowOf<K extends string>(line: string, names: readonly K[]): Record<K, string> {
  const parts = line.split("|");
  if (parts.length < names.length) {
    throw new SlurmParseError(
      `expected ${names.length} fields separated by |, got ${parts.length}`,
      line,
    );
  }
  const row = {} as Record<K, string>;
  names.forEach((name, i) => {
    row[name] = i === names.length - 1 ? parts.slice(i).join("|") : parts[i]!;
  });
  return row;
}

function stateOf(text: string, line: string): SlurmState {
  const state = parseState(text);
  if (state === undefined) throw new SlurmParseError(`unknown job state "${text}"`, line);
  return state;
}

function jobInfo(row: Row, state: SlurmState): JobInfo {
  const info: JobInfo = { jobId: row.jobId.trim(), name: row.name, state };
  const reason = reasonOf(row.reason);
  if (reason !== undefined) info.reason = reason;
  if (row.partition.trim() !== "") info.partition = row.partition.trim();
  const node = firstNode(row.nodes);
  if (node !== undefined) {
    info.nodes = row.nodes.trim();
    info.node = node;
  }
  const submitTime = parseSlurmTime(row.submit);
  if (submitTime) info.submitTime = submitTime;
  // A pending job's start and end are SLURM's estimates; only a started job's are facts.
  if (state !== "PENDING") {
    const startTime = parseSlurmTime(row.start);
    if (startTime) info.startTime = startTime;
    const endTime = parseSlurmTime(row.end);
    if (endTime) info.endTime = endTime;
  }
  const limit = parseSlurmDuration(row.limit);
  if (typeof limit === "number") info.timeLimitSeconds = limit;
  if (row.exitCode !== undefined && isFinished(state) && row.exitCode.trim() !== "") {
    info.exitCode = row.exitCode.trim();
  }
  return info;
}

function linesOf(text: string): string[] {
  return text.split("\n").filter((line) => line.trim() !== "");
}

/** Parses `squeue --noheader -o` {@linkcode SQUEUE_FORMAT} output, one job a line. */
export function parseSqueue(text: string): JobInfo[] {
  return linesOf(text).map((line) => {
    const row = rowOf(line, SQUEUE_FIELDS);
    return jobInfo(row, stateOf(row.state, line));
  });
}

/**
 * Parses `sacct -X -P -n --format=` {@linkcode SACCT_FORMAT} output. A row sacct shows before
 * slurmdbd has the job (name `allocation` or no partition: its lag of a few seconds) is left out.
 */
export function parseSacct(text: string): JobInfo[] {
  const jobs: JobInfo[] = [];
  for (const line of linesOf(text)) {
    const row = rowOf(line, SACCT_FIELDS);
    const placeholder = row.name === "allocation" && row.state.trim() === "PENDING";
    if (row.partition.trim() === "" || placeholder) continue;
    const state = stateOf(row.state, line);
    // sacct's Reason is the scheduler's last word before the job was recorded, not today's; a
    // pending job's current reason comes from squeue.
    jobs.push(jobInfo(state === "PENDING" ? { ...row, reason: "" } : row, state));
  }
  return jobs;
}

/**
 * The code of a reason as squeue prints it (`ReqNodeNotAvail, UnavailableNodes:gpu[01-02]` is
 * `ReqNodeNotAvail`).
 */
export function reasonCode(reason: string): string {
  return reason.trim().replace(/^\(|\)$/g, "").split(",")[0]!.trim();
}

// The codes below are squeue(1)'s JOB REASON CODES of SLURM 22.05 and the fuller list at
// https://slurm.schedmd.com/job_reason_codes.html.

/** Per-job maxima of a QOS or association: a request above them never fits while they stand. */
const PER_JOB_LIMIT = /^(QOS|Assoc)Max\w*Per(Job|Node)\w*$|^(QOS|Assoc)MaxWallDurationPerJobLimit$/;
const MIN_LIMIT = /^QOSMin\w*$/;

const NEVER_CLEARS: ReadonlySet<string> = new Set([
  "DependencyNeverSatisfied",
  "PartitionDown",
  "PartitionInactive",
  "PartitionTimeLimit",
  "PartitionNodeLimit",
  "PartitionConfig",
  "InvalidQOS",
  "InvalidAccount",
  "AccountNotAllowed",
  "QOSNotAllowed",
  "BadConstraints",
  "JobLaunchFailure",
  "SystemFailure",
  "FrontEndDown",
  "NodeDown",
]);

/**
 * True for a PENDING reason that will not clear by waiting (a partition down or inactive, an
 * invalid QOS or account, a dependency that can never be satisfied, a request above a per-job
 * QOS or association maximum, nodes the job needs that are down): the job should fall back to
 * another partition or fail with the reason, not wait out `pending_timeout`.
 */
export function neverClears(reason: string): boolean {
  const code = reasonCode(reason);
  if (NEVER_CLEARS.has(code) || PER_JOB_LIMIT.test(code) || MIN_LIMIT.test(code)) return true;
  // Nodes that are DOWN, DRAINED or not responding are named as UnavailableNodes; nodes that are
  // merely busy or reserved are not.
  return code === "ReqNodeNotAvail" && /UnavailableNodes:\S/.test(reason);
}

const RESOURCES: ReadonlySet<string> = new Set([
  "Resources",
  "ReqNodeNotAvail",
  "NodeDown",
  "Licenses",
  "Reservation",
  "PartitionNodeLimit",
  "FrontEndDown",
  "BurstBufferResources",
]);

/**
 * Groups a PENDING reason for `jobs status`: `quota` (association and QOS limits, accounting
 * policy), `resources` (GPUs or nodes busy or down, licenses, reservations), `held` (by the user or
 * an admin), `dependency`, `priority` (higher-priority jobs first), `other`.
 */
export function pendingGroupOf(reason: string): PendingGroup {
  const code = reasonCode(reason);
  if (code === "JobHeldUser" || code === "JobHeldAdmin" || code === "Held") return "held";
  if (code === "Dependency" || code === "DependencyNeverSatisfied") return "dependency";
  if (code === "Priority" || code === "PriorityResvReserved") return "priority";
  if (RESOURCES.has(code) || code.startsWith("Nodes_required")) return "resources";
  if (
    /^(QOS|Assoc)/.test(code) || /^Max\w*Per(Account|User)/.test(code) ||
    code === "AccountingPolicy"
  ) {
    return code === "QOSNotAllowed" ? "other" : "quota";
  }
  return "other";
}

/**
 * sbatch's words when it could not get an answer from slurmctld: the job may have been queued
 * all the same (a reply lost to a timeout), so a caller must look for it by name before
 * submitting again. Everything else sbatch says on failure is a refusal of the job.
 */
const UNREACHABLE = [
  /Socket timed out on send\/recv operation/i,
  /Unable to contact slurm controller/i,
  /Zero Bytes were transmitted or received/i,
  /Communication connection failure/i,
  /Connection refused/i,
  /Could not establish a configuration source/i,
  /slurm_persist_conn_open/i,
];

/**
 * Whether a failed sbatch's output says the job was refused (bad QOS, partition, account,
 * resources: another partition may take it) or that slurmctld could not be reached (the job's
 * fate is unknown).
 */
export function sbatchFailureKind(text: string): "refused" | "unreachable" {
  return UNREACHABLE.some((pattern) => pattern.test(text)) ? "unreachable" : "refused";
}

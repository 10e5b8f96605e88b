/**
 * slurmrestd API v0.0.38 (SLURM 22.05): flat numbers, a state string, `script` beside `job`, the
 * environment as an object. Shapes checked against the testbed's slurmrestd (testdata/rest/).
 */
import { z } from "zod";
import { firstNode, parseState } from "../parse.ts";
import type { JobInfo, SubmitResult } from "../types.ts";
import type { JobDirectives } from "./directives.ts";
import type { RestDialect } from "./dialect.ts";

/** SLURM's INFINITE and NO_VAL as 32-bit numbers: no limit of the job's own. */
const NO_LIMIT = 0xfffffffe;

/** Fields slurmrestd may give as null (an unlimited job's `time_limit`, for one). */
const num = z.number().nullish().transform((value) => value ?? undefined);
/** A string slurmrestd may give as null, read as undefined. */
export const str = z.string().nullish().transform((value) => value ?? undefined);

/** The `errors[]` every answer of every version carries. */
export const Errors = z.object({
  errors: z.array(z.object({
    error: z.string().optional(),
    description: z.string().optional(),
    error_code: z.number().optional(),
    error_number: z.number().optional(),
  })).default([]),
});

const Submit = Errors.extend({ job_id: z.number().int().optional() });

const Job = z.object({
  job_id: z.number().int(),
  name: z.string(),
  job_state: z.string(),
  state_reason: str,
  partition: str,
  nodes: str,
  submit_time: num,
  start_time: num,
  end_time: num,
  time_limit: num,
  /** A wait status: the exit code in the high byte, the signal in the low 7 bits. */
  exit_code: num,
  user_name: str,
});

const Jobs = Errors.extend({ jobs: z.array(Job) });

const DbJob = z.object({
  job_id: z.number().int(),
  name: z.string(),
  state: z.object({ current: z.string(), reason: str }),
  partition: str,
  nodes: str,
  time: z.object({
    submission: num,
    start: num,
    end: num,
    limit: num,
  }).optional(),
  exit_code: z.object({
    status: str,
    return_code: num,
    signal: z.object({ signal_id: num }).optional(),
  }).optional(),
});

const DbJobs = Errors.extend({ jobs: z.array(DbJob) });

/** The v0.0.38 dialect. */
export const dialect38: RestDialect = {
  version: "v0.0.38",
  submitBody(script, job, environment) {
    return { script, job: { ...properties(job), environment } };
  },
  parseSubmit(body) {
    return submitResult(Submit.parse(body));
  },
  parseJobs(body) {
    return Jobs.parse(body).jobs.flatMap((job) => {
      const state = parseState(job.job_state);
      if (!state) return [];
      const info: JobInfo & { user?: string } = {
        jobId: String(job.job_id),
        name: job.name,
        state,
      };
      setText(info, "reason", job.state_reason === "None" ? undefined : job.state_reason);
      setText(info, "partition", job.partition);
      setNodes(info, job.nodes);
      setTime(info, "submitTime", job.submit_time);
      setTime(info, "startTime", job.start_time);
      setTime(info, "endTime", job.end_time);
      setLimit(info, job.time_limit);
      if (job.exit_code !== undefined) {
        info.exitCode = `${(job.exit_code >> 8) & 0xff}:${job.exit_code & 0x7f}`;
      }
      setText(info, "user", job.user_name);
      return [info];
    });
  },
  parseAccounting(body) {
    return DbJobs.parse(body).jobs.flatMap((job) => {
      const state = parseState(job.state.current);
      // sacct's lag: a row slurmdbd has not filled in yet (no partition) is left out.
      if (!state || job.name === "allocation" || !job.partition) return [];
      const info: JobInfo = { jobId: String(job.job_id), name: job.name, state };
      setText(info, "reason", job.state.reason === "None" ? undefined : job.state.reason);
      setText(info, "partition", job.partition);
      setNodes(info, job.nodes);
      setTime(info, "submitTime", job.time?.submission);
      setTime(info, "startTime", job.time?.start);
      setTime(info, "endTime", job.time?.end);
      setLimit(info, job.time?.limit);
      if (job.exit_code?.return_code !== undefined) {
        info.exitCode = `${job.exit_code.return_code}:${job.exit_code.signal?.signal_id ?? 0}`;
      }
      return [info];
    });
  },
  errors(body) {
    return errorTexts(Errors.safeParse(body).data?.errors ?? []);
  },
};

/** The job properties v0.0.38 names, from the script's directives. */
function properties(job: JobDirectives): Record<string, unknown> {
  return compact({
    name: job.name,
    partition: job.partition,
    qos: job.qos,
    account: job.account,
    reservation: job.reservation,
    constraints: job.constraints,
    time_limit: job.timeLimitMinutes,
    standard_output: job.standardOutput,
    standard_error: job.standardError,
    current_working_directory: job.workingDirectory,
    nodes: job.nodes === undefined ? undefined : [job.nodes, job.nodes],
    tasks: job.tasks,
    tasks_per_node: job.tasksPerNode,
    cpus_per_task: job.cpusPerTask,
    gres: job.gres,
    memory_per_node: job.memoryMb,
    signal: job.signal,
    open_mode: job.openMode,
    requeue: job.requeue,
    exclusive: job.exclusive ? "user" : undefined,
  });
}

/** A submit's result: a job id is success even beside errors (a held job reports one). */
export function submitResult(body: z.infer<typeof Submit>): SubmitResult {
  if (body.job_id !== undefined && body.job_id > 0) return { ok: true, jobId: String(body.job_id) };
  const texts = errorTexts(body.errors);
  return { ok: false, error: texts.join("; ") || "slurmrestd answered without a job id" };
}

/** The texts of `errors[]`, the error first and the detail after it. */
export function errorTexts(errors: z.infer<typeof Errors>["errors"]): string[] {
  return errors.map((e) =>
    [e.error, e.description].filter((t) => t !== undefined && t !== "").join(": ")
  ).filter((t) => t !== "");
}

/** Drops the undefined fields, so the request carries only what the script set. */
export function compact(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

function setText<K extends "reason" | "partition" | "user">(
  info: JobInfo & { user?: string },
  key: K,
  value: string | undefined,
): void {
  if (value !== undefined && value !== "") info[key] = value;
}

function setNodes(info: JobInfo, nodes: string | undefined): void {
  if (nodes === undefined || nodes === "") return;
  info.nodes = nodes;
  const node = firstNode(nodes);
  if (node !== undefined) info.node = node;
}

function setTime(
  info: JobInfo,
  key: "submitTime" | "startTime" | "endTime",
  epoch: number | undefined,
): void {
  if (epoch !== undefined && epoch > 0) info[key] = new Date(epoch * 1000);
}

function setLimit(info: JobInfo, minutes: number | undefined): void {
  if (minutes !== undefined && minutes < NO_LIMIT) info.timeLimitSeconds = minutes * 60;
}

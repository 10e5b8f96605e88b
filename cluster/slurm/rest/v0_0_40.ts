/**
 * slurmrestd API v0.0.40 to v0.0.44 (SLURM 23.11 to 25.x), one shape: numbers as
 * `{set, infinite, number}`, states as arrays, the script and an environment list inside `job`,
 * exit codes as `{status, return_code, signal}`. From SchedMD's data_parser plugins
 * (src/plugins/data_parser/v0.0.4x/parsers.c) and clients generated from their OpenAPI documents;
 * not run against a live slurmrestd here (the testbed's is 22.05).
 */
import { z } from "zod";
import { firstNode, parseState } from "../parse.ts";
import type { JobInfo } from "../types.ts";
import type { JobDirectives } from "./directives.ts";
import type { RestDialect } from "./dialect.ts";
import { compact, Errors, errorTexts, str, submitResult } from "./v0_0_38.ts";

/** A number that may be unset or infinite. */
const NoVal = z.union([
  z.number(),
  z.object({
    set: z.boolean().optional(),
    infinite: z.boolean().optional(),
    number: z.number().optional(),
  }),
]).nullish().transform((value) => value ?? undefined);

/** A state (or flag) list; older answers gave a single string. */
const States = z.union([z.string(), z.array(z.string())]);

const ExitCode = z.object({
  status: States.optional(),
  return_code: NoVal,
  signal: z.object({ id: NoVal, name: str }).optional(),
});

const Job = z.object({
  job_id: z.number().int(),
  name: z.string(),
  job_state: States,
  state_reason: str,
  partition: str,
  nodes: str,
  submit_time: NoVal,
  start_time: NoVal,
  end_time: NoVal,
  time_limit: NoVal,
  exit_code: ExitCode.optional(),
  user_name: str,
});

const DbJob = z.object({
  job_id: z.number().int(),
  name: z.string(),
  state: z.object({ current: States, reason: str }),
  partition: str,
  nodes: str,
  time: z.object({
    submission: NoVal,
    start: NoVal,
    end: NoVal,
    limit: NoVal,
  }).optional(),
  exit_code: ExitCode.optional(),
});

/** The dialect of `version` (`v0.0.40` to `v0.0.44`). */
export function dialect40(version: string): RestDialect {
  return {
    version,
    submitBody(script, job, environment) {
      return {
        job: {
          script,
          ...properties(job),
          environment: Object.entries(environment).map(([key, value]) => `${key}=${value}`),
        },
      };
    },
    parseSubmit(body) {
      return submitResult(
        Errors.extend({ job_id: z.number().int().optional() }).parse(body),
      );
    },
    parseJobs(body) {
      return Errors.extend({ jobs: z.array(Job) }).parse(body).jobs.flatMap((job) => {
        const state = parseState(firstState(job.job_state));
        if (!state) return [];
        return [
          info(String(job.job_id), job.name, state, {
            reason: job.state_reason,
            partition: job.partition,
            nodes: job.nodes,
            submit: job.submit_time,
            start: job.start_time,
            end: job.end_time,
            limit: job.time_limit,
            exit: job.exit_code,
            user: job.user_name,
          }),
        ];
      });
    },
    parseAccounting(body) {
      return Errors.extend({ jobs: z.array(DbJob) }).parse(body).jobs.flatMap((job) => {
        const state = parseState(firstState(job.state.current));
        if (!state || job.name === "allocation" || !job.partition) return [];
        return [
          info(String(job.job_id), job.name, state, {
            reason: job.state.reason,
            partition: job.partition,
            nodes: job.nodes,
            submit: job.time?.submission,
            start: job.time?.start,
            end: job.time?.end,
            limit: job.time?.limit,
            exit: job.exit_code,
          }),
        ];
      });
    },
    errors(body) {
      return errorTexts(Errors.safeParse(body).data?.errors ?? []);
    },
  };
}

function properties(job: JobDirectives): Record<string, unknown> {
  const signal = job.signal === undefined ? undefined : parseSignal(job.signal);
  return compact({
    name: job.name,
    partition: job.partition,
    qos: job.qos,
    account: job.account,
    reservation: job.reservation,
    constraints: job.constraints,
    time_limit: job.timeLimitMinutes === undefined ? undefined : set(job.timeLimitMinutes),
    standard_output: job.standardOutput,
    standard_error: job.standardError,
    current_working_directory: job.workingDirectory,
    nodes: job.nodes === undefined ? undefined : String(job.nodes),
    tasks: job.tasks,
    tasks_per_node: job.tasksPerNode,
    cpus_per_task: job.cpusPerTask,
    tres_per_node: job.gres === undefined ? undefined : `gres/${job.gres}`,
    memory_per_node: job.memoryMb === undefined ? undefined : set(job.memoryMb),
    kill_warning_signal: signal?.signal,
    kill_warning_delay: signal === undefined ? undefined : set(signal.seconds),
    kill_warning_flags: signal?.batchOnly ? ["BATCH_JOB"] : undefined,
    open_mode: job.openMode === undefined ? undefined : [job.openMode.toUpperCase()],
    requeue: job.requeue,
    shared: job.exclusive ? ["user"] : undefined,
  });
}

/** `--signal=[B:]SIG[@seconds]` (60 s when no time is given, as sbatch's default). */
function parseSignal(text: string): { signal: string; seconds: number; batchOnly: boolean } {
  const match = /^(B:)?([A-Z0-9]+)(?:@(\d+))?$/i.exec(text);
  return {
    signal: match?.[2] ?? text,
    seconds: match?.[3] === undefined ? 60 : Number(match[3]),
    batchOnly: match?.[1] !== undefined,
  };
}

function set(number: number): { set: true; infinite: false; number: number } {
  return { set: true, infinite: false, number };
}

function firstState(states: string | string[]): string {
  return typeof states === "string" ? states : states[0] ?? "";
}

/** A number's value, undefined when unset or infinite. */
function numberOf(value: z.infer<typeof NoVal> | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "number") return value;
  if (value.set === false || value.infinite === true) return undefined;
  return value.number;
}

interface Fields {
  reason: string | undefined;
  partition: string | undefined;
  nodes: string | undefined;
  submit: z.infer<typeof NoVal> | undefined;
  start: z.infer<typeof NoVal> | undefined;
  end: z.infer<typeof NoVal> | undefined;
  limit: z.infer<typeof NoVal> | undefined;
  exit: z.infer<typeof ExitCode> | undefined;
  user?: string | undefined;
}

function info(
  jobId: string,
  name: string,
  state: JobInfo["state"],
  fields: Fields,
): JobInfo & { user?: string } {
  const job: JobInfo & { user?: string } = { jobId, name, state };
  if (fields.reason && fields.reason !== "None") job.reason = fields.reason;
  if (fields.partition) job.partition = fields.partition;
  if (fields.nodes) {
    job.nodes = fields.nodes;
    const node = firstNode(fields.nodes);
    if (node !== undefined) job.node = node;
  }
  const times = [["submitTime", fields.submit], ["startTime", fields.start], [
    "endTime",
    fields.end,
  ]] as const;
  for (const [key, value] of times) {
    const epoch = numberOf(value);
    if (epoch !== undefined && epoch > 0) job[key] = new Date(epoch * 1000);
  }
  const limit = numberOf(fields.limit);
  if (limit !== undefined) job.timeLimitSeconds = limit * 60;
  const code = numberOf(fields.exit?.return_code);
  if (code !== undefined) job.exitCode = `${code}:${numberOf(fields.exit?.signal?.id) ?? 0}`;
  if (fields.user) job.user = fields.user;
  return job;
}

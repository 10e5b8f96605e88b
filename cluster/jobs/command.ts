/** `deno task jobs <start|status|scale|stop|logs|plan|connect>`: the config's models as SLURM jobs (or local processes). */
import { type Command, UsageError } from "../../config/cli.ts";
import { loadConfig } from "../../config/loader.ts";
import type { Config } from "../../config/schema.ts";
import type { JobStatusRow } from "../../actors/job/types.ts";
import { type JobsInvocation, parseJobsArgs } from "./args.ts";
import { JOBS_USAGE, SCALE_USAGE } from "./usage.ts";
import { type OpenedJobs, openJobs } from "./open_jobs.ts";
import { renderStatusTable } from "./status_table.ts";
import { startSettled, stopSettled, waitForRows, type WaitOutcome } from "./progress.ts";
import { GatewayJobsError } from "./gateway_jobs.ts";
import { JobNotFoundError, parseJobRef, printLog, resolveLog } from "./logs.ts";
import { openCluster } from "../slurm/connect.ts";
import { runPlan } from "./plan.ts";
import { runConnect } from "./connect.ts";
import { NoLocalJobsError } from "./local_jobs.ts";
import { SshConnectError, SshHostKeyError } from "../ssh/mod.ts";
import { SlurmCommandError } from "../slurm/cli.ts";
import { RestSlurmError } from "../slurm/rest.ts";
import { JobsRequestError } from "../../actors/job/controller.ts";

/** Extra seconds `start --wait` allows beyond the longest `startup_timeout`, for the queue. */
const QUEUE_ALLOWANCE_S = 300;

/** An AbortSignal that Ctrl-C (SIGINT) or SIGTERM aborts, and its cleanup. */
function interruptSignal(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const abort = () => controller.abort();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, abort);
  return {
    signal: controller.signal,
    dispose: () => {
      for (const s of signals) Deno.removeSignalListener(s, abort);
    },
  };
}

function checkModel(config: Config, model: string, usage: string): void {
  if (config.models.some((m) => m.name === model)) return;
  const names = config.models.map((m) => m.name).join(", ") || "none";
  throw new UsageError(`Unknown model "${model}"; the config's models: ${names}`, usage);
}

/** An error that is the world's answer, not a bug: what to print and the exit code. */
export interface ExpectedError {
  message: string;
  /** 2 for a request the controller refused as wrong (an unknown model, a count out of bounds), else 1. */
  code: 1 | 2;
}

/**
 * What to print for an error that is the world's answer, not a bug: a gateway's refusal, an SSH
 * login or host key refused, a SLURM command or slurmrestd failing, a job not found, a request
 * the job actors refused; undefined for anything else (thrown on, with its stack).
 */
export function expectedError(error: unknown): ExpectedError | undefined {
  if (error instanceof SshHostKeyError || error instanceof SshConnectError) {
    return { message: `Cannot reach the cluster: ${error.message}`, code: 1 };
  }
  if (error instanceof SlurmCommandError || error instanceof RestSlurmError) {
    return { message: `SLURM did not answer: ${error.message}`, code: 1 };
  }
  if (error instanceof JobsRequestError) return { message: error.message, code: 2 };
  if (error instanceof GatewayJobsError) {
    const refused = error.status === 400 || error.status === 404;
    return { message: error.message, code: refused ? 2 : 1 };
  }
  if (error instanceof NoLocalJobsError || error instanceof JobNotFoundError) {
    return { message: error.message, code: 1 };
  }
  return undefined;
}

/** Runs `fn`, printing an expected error (with its exit code) instead of a stack trace. */
async function reporting(fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (error) {
    const expected = expectedError(error);
    if (expected === undefined) throw error;
    console.error(expected.message);
    return expected.code;
  }
}

/** Runs `fn` with the job actors open, closing them after. */
function withJobs(
  config: Config,
  adminKey: string | undefined,
  fn: (jobs: OpenedJobs) => Promise<number>,
): Promise<number> {
  return reporting(async () => {
    const jobs = await openJobs(config, { adminKey });
    try {
      return await fn(jobs);
    } finally {
      await jobs.close();
    }
  });
}

function say(jobs: OpenedJobs, what: string): void {
  console.error(
    jobs.via === "gateway"
      ? `${what} through the gateway at ${jobs.where}`
      : `${what} in this process (no gateway answers on proxy.port; state in ${jobs.where})`,
  );
}

function finish(outcome: WaitOutcome, what: string, timeoutS: number): number {
  console.log(renderStatusTable(outcome.rows));
  if (outcome.outcome === "done") return 0;
  console.error(
    outcome.outcome === "failed"
      ? `A replica failed while ${what}; its last error is above`
      : outcome.outcome === "timeout"
      ? `Not every replica got there within ${timeoutS} s (--timeout); \`deno task jobs status\` shows where they stand`
      : "Stopped waiting (interrupted); the jobs carry on",
  );
  return 1;
}

async function start(
  config: Config,
  invocation: Extract<JobsInvocation, { command: "start" }>,
): Promise<number> {
  const longest = Math.max(0, ...config.models.map((m) => m.startup_timeout));
  const timeoutS = invocation.timeoutS ??
    (invocation.wait ? longest + QUEUE_ALLOWANCE_S : QUEUE_ALLOWANCE_S);
  return await withJobs(config, invocation.adminKey, async (jobs) => {
    say(jobs, "Starting the config's models");
    const first = await jobs.controller.start();
    const interrupt = interruptSignal();
    try {
      const outcome = await waitForRows(jobs.controller, first, {
        settled: (row) => startSettled(row, invocation.wait),
        timeoutMs: timeoutS * 1000,
        print: (line) => console.error(line),
        signal: interrupt.signal,
      });
      return finish(outcome, "starting", timeoutS);
    } finally {
      interrupt.dispose();
    }
  });
}

async function stop(
  config: Config,
  invocation: Extract<JobsInvocation, { command: "stop" }>,
): Promise<number> {
  const model = invocation.model;
  if (model !== undefined) checkModel(config, model, JOBS_USAGE);
  return await withJobs(config, invocation.adminKey, async (jobs) => {
    say(jobs, model === undefined ? "Stopping every model" : `Stopping ${model}`);
    const first = await jobs.controller.stop(model);
    const interrupt = interruptSignal();
    try {
      const outcome = await waitForRows(jobs.controller, first, {
        settled: (row) => model !== undefined && row.model !== model ? "done" : stopSettled(row),
        timeoutMs: invocation.timeoutS * 1000,
        print: (line) => console.error(line),
        signal: interrupt.signal,
      });
      return finish(outcome, "stopping", invocation.timeoutS);
    } finally {
      interrupt.dispose();
    }
  });
}

function printRows(rows: JobStatusRow[], json: boolean): void {
  console.log(json ? JSON.stringify(rows) : renderStatusTable(rows));
}

async function status(
  config: Config,
  invocation: Extract<JobsInvocation, { command: "status" }>,
): Promise<number> {
  return await withJobs(config, invocation.adminKey, async (jobs) => {
    if (!invocation.watch) {
      printRows(await jobs.controller.status(), invocation.json);
      return 0;
    }
    const interrupt = interruptSignal();
    const clear = !invocation.json && Deno.stdout.isTerminal();
    try {
      while (!interrupt.signal.aborted) {
        const rows = await jobs.controller.status();
        if (clear) console.log("\x1b[H\x1b[2J");
        printRows(rows, invocation.json);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, invocation.intervalS * 1000);
          interrupt.signal.addEventListener("abort", () => {
            clearTimeout(timer);
            resolve();
          }, { once: true });
        });
      }
      return 0;
    } finally {
      interrupt.dispose();
    }
  });
}

async function scale(
  config: Config,
  invocation: Extract<JobsInvocation, { command: "scale" }>,
): Promise<number> {
  checkModel(config, invocation.model, SCALE_USAGE);
  return await withJobs(config, invocation.adminKey, async (jobs) => {
    say(jobs, `Scaling ${invocation.model} to ${invocation.replicas}`);
    const rows = await jobs.controller.scale(invocation.model, invocation.replicas);
    console.log(renderStatusTable(rows));
    return 0;
  });
}

function logs(
  config: Config,
  invocation: Extract<JobsInvocation, { command: "logs" }>,
): Promise<number> {
  const ref = parseJobRef(invocation.job);
  return reporting(async () => {
    const cluster = await openCluster(config);
    const interrupt = interruptSignal();
    try {
      const resolved = await resolveLog(ref, {
        ...cluster,
        rows: async () => {
          const jobs = await openJobs(config, { cluster });
          try {
            return await jobs.controller.status();
          } finally {
            await jobs.close();
          }
        },
      });
      if (invocation.follow) {
        console.error(
          `Following job ${resolved.jobId}'s output ${resolved.paths.join(" and ")} (Ctrl-C ends)`,
        );
      }
      return await printLog(resolved.paths, cluster, {
        follow: invocation.follow,
        signal: interrupt.signal,
      });
    } finally {
      interrupt.dispose();
      await cluster.close();
    }
  });
}

/** The `jobs` subcommand. */
export const jobsCommand: Command = {
  name: "jobs",
  summary: "submit, watch, scale and stop the models' vLLM jobs on SLURM; plan; connect",
  usage: JOBS_USAGE,
  handlesHelp: true,
  async run(args) {
    const invocation = parseJobsArgs(args);
    switch (invocation.command) {
      case "help":
        console.log(invocation.usage);
        return 0;
      case "plan":
        return await runPlan(invocation.args);
      case "connect":
        return await reporting(() => runConnect(invocation));
    }
    const config = await loadConfig(invocation.config);
    switch (invocation.command) {
      case "start":
        return await start(config, invocation);
      case "status":
        return await status(config, invocation);
      case "scale":
        return await scale(config, invocation);
      case "stop":
        return await stop(config, invocation);
      case "logs":
        return await logs(config, invocation);
    }
  },
};

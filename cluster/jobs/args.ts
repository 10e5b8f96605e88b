/** The command line of `deno task jobs`, parsed into one typed invocation per subcommand. */
import { numberFlag, parseFlags, UsageError } from "../../config/cli.ts";
import {
  CONNECT_USAGE,
  JOBS_USAGE,
  LOGS_USAGE,
  SCALE_USAGE,
  START_USAGE,
  STATUS_USAGE,
  STOP_USAGE,
} from "./usage.ts";

/** What every subcommand that reaches the jobs takes: the config, and the gateway's admin key. */
export interface Common {
  /** `--config FILE`; the built-in default when absent. */
  config: string | undefined;
  /** `--admin-key KEY`. */
  adminKey: string | undefined;
}

/** One parsed `deno task jobs ...` command line. */
export type JobsInvocation =
  | { command: "help"; usage: string }
  | { command: "start"; wait: boolean; timeoutS: number | undefined } & Common
  | { command: "status"; json: boolean; watch: boolean; intervalS: number } & Common
  | { command: "scale"; model: string; replicas: number } & Common
  | { command: "stop"; model: string | undefined; timeoutS: number } & Common
  | { command: "logs"; job: string; follow: boolean; config: string | undefined }
  | { command: "plan"; args: string[] }
  | {
    command: "connect";
    config: string | undefined;
    port: number | undefined;
    host: string | undefined;
    insecure: boolean;
  };

/** The subcommands, for messages. */
export const JOBS_SUBCOMMANDS = [
  "start",
  "status",
  "scale",
  "stop",
  "logs",
  "plan",
  "connect",
] as const;

const ADMIN = { "admin-key": { type: "string" } } as const;

function positiveSeconds(value: string | boolean | undefined, flag: string, usage: string) {
  const n = numberFlag(value, flag, usage);
  if (n !== undefined && !(n > 0)) {
    throw new UsageError(`--${flag} expects a positive number of seconds, got ${n}`, usage);
  }
  return n;
}

function noMore(rest: readonly string[], usage: string): void {
  if (rest.length > 0) throw new UsageError(`Unexpected argument "${rest[0]}"`, usage);
}

function common(values: { config?: unknown; "admin-key"?: unknown }): Common {
  return {
    config: typeof values.config === "string" ? values.config : undefined,
    adminKey: typeof values["admin-key"] === "string" ? values["admin-key"] : undefined,
  };
}

/** Parses `deno task jobs` arguments; a wrong command line throws {@linkcode UsageError}. */
export function parseJobsArgs(args: readonly string[]): JobsInvocation {
  const [sub, ...rest] = args;
  if (sub === undefined) throw new UsageError("Missing command", JOBS_USAGE);
  if (sub === "--help" || sub === "-h" || sub === "help") {
    return { command: "help", usage: JOBS_USAGE };
  }
  switch (sub) {
    case "start": {
      const { values, positionals } = parseFlags(
        [...rest],
        { ...ADMIN, wait: { type: "boolean" }, timeout: { type: "string" } },
        START_USAGE,
        true,
      );
      if (values.help) return { command: "help", usage: START_USAGE };
      noMore(positionals, START_USAGE);
      return {
        command: "start",
        ...common(values),
        wait: values.wait === true,
        timeoutS: positiveSeconds(values.timeout, "timeout", START_USAGE),
      };
    }
    case "status": {
      const { values, positionals } = parseFlags(
        [...rest],
        {
          ...ADMIN,
          json: { type: "boolean" },
          watch: { type: "boolean" },
          interval: { type: "string" },
        },
        STATUS_USAGE,
        true,
      );
      if (values.help) return { command: "help", usage: STATUS_USAGE };
      noMore(positionals, STATUS_USAGE);
      if (values.interval !== undefined && !values.watch) {
        throw new UsageError("--interval goes with --watch", STATUS_USAGE);
      }
      return {
        command: "status",
        ...common(values),
        json: values.json === true,
        watch: values.watch === true,
        intervalS: positiveSeconds(values.interval, "interval", STATUS_USAGE) ?? 2,
      };
    }
    case "scale": {
      const { values, positionals } = parseFlags([...rest], { ...ADMIN }, SCALE_USAGE, true);
      if (values.help) return { command: "help", usage: SCALE_USAGE };
      const [model, count, ...extra] = positionals;
      if (model === undefined || count === undefined) {
        throw new UsageError("scale needs MODEL and N", SCALE_USAGE);
      }
      noMore(extra, SCALE_USAGE);
      const replicas = Number(count);
      if (!/^\d+$/.test(count) || !Number.isSafeInteger(replicas)) {
        throw new UsageError(
          `N expects a whole number of replicas (0 or more), got "${count}"`,
          SCALE_USAGE,
        );
      }
      return { command: "scale", ...common(values), model, replicas };
    }
    case "stop": {
      const { values, positionals } = parseFlags(
        [...rest],
        { ...ADMIN, timeout: { type: "string" } },
        STOP_USAGE,
        true,
      );
      if (values.help) return { command: "help", usage: STOP_USAGE };
      const [model, ...extra] = positionals;
      noMore(extra, STOP_USAGE);
      return {
        command: "stop",
        ...common(values),
        model,
        timeoutS: positiveSeconds(values.timeout, "timeout", STOP_USAGE) ?? 300,
      };
    }
    case "logs": {
      const { values, positionals } = parseFlags(
        [...rest],
        { follow: { type: "boolean", short: "f" } },
        LOGS_USAGE,
        true,
      );
      if (values.help) return { command: "help", usage: LOGS_USAGE };
      const [job, ...extra] = positionals;
      if (job === undefined) throw new UsageError("logs needs JOB", LOGS_USAGE);
      noMore(extra, LOGS_USAGE);
      return {
        command: "logs",
        job,
        follow: values.follow === true,
        config: typeof values.config === "string" ? values.config : undefined,
      };
    }
    case "plan":
      // `jobs plan` parses its own flags and answers its own --help.
      return { command: "plan", args: [...rest] };
    case "connect": {
      const { values, positionals } = parseFlags(
        [...rest],
        { port: { type: "string" }, host: { type: "string" }, insecure: { type: "boolean" } },
        CONNECT_USAGE,
        true,
      );
      if (values.help) return { command: "help", usage: CONNECT_USAGE };
      noMore(positionals, CONNECT_USAGE);
      const port = numberFlag(values.port, "port", CONNECT_USAGE);
      if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
        throw new UsageError(
          `--port expects an integer from 0 to 65535, got ${port}`,
          CONNECT_USAGE,
        );
      }
      return {
        command: "connect",
        config: typeof values.config === "string" ? values.config : undefined,
        port,
        host: values.host,
        insecure: values.insecure === true,
      };
    }
    default:
      throw new UsageError(
        `Unknown command "${sub}"; one of ${JOBS_SUBCOMMANDS.join(", ")}`,
        JOBS_USAGE,
      );
  }
}

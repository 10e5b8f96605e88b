/**
 * The job actors of a running gateway, driven over its admin API (`/api/jobs`): what `deno task
 * jobs` uses when a gateway answers on the configured port, since that gateway's actors own the jobs.
 */
import { z } from "zod";
import { JOB_PHASES, type JobsController, type JobStatusRow } from "../../actors/job/types.ts";
import { SLURM_STATES } from "../slurm/types.ts";

/** A JSON field that may be absent or null: undefined inside. */
function maybe<T extends z.ZodType>(schema: T) {
  return schema.nullish().transform((value) => value ?? undefined);
}

/** One `JobStatusRow` as JSON carries it (undefined fields left out). */
export const JobStatusRowSchema = z.object({
  model: z.string(),
  replica: z.number().int().min(0),
  jobId: maybe(z.string()),
  kind: z.enum(["slurm", "local"]),
  phase: z.enum(JOB_PHASES),
  slurmState: maybe(z.enum(SLURM_STATES)),
  partition: maybe(z.string()),
  node: maybe(z.string()),
  pendingReason: maybe(z.string()),
  pendingGroup: maybe(z.enum(["quota", "resources", "held", "dependency", "priority", "other"])),
  sinceMs: z.number(),
  endpoint: maybe(z.string()),
  port: maybe(z.number().int().min(1).max(65535)),
  outputPath: maybe(z.string()),
  health: z.enum(["healthy", "starting", "unhealthy", "unknown"]),
  attempts: z.number().int().min(0),
  lastError: maybe(z.string()),
});

/** What `/api/jobs` answers: the rows, bare or as `{jobs: rows}`. */
const RowsSchema = z.union([
  z.array(JobStatusRowSchema),
  z.object({ jobs: z.array(JobStatusRowSchema) }).transform((body) => body.jobs),
]);

/** A call to the gateway's `/api/jobs` that failed: refused, unauthorised, or an error answer. */
export class GatewayJobsError extends Error {
  /** The HTTP status, when the gateway answered. */
  readonly status: number | undefined;
  /** @param message what happened and what to do, @param status the HTTP status when one came */
  constructor(message: string, status?: number) {
    super(message);
    this.name = "GatewayJobsError";
    this.status = status;
  }
}

/** Options of {@linkcode GatewayJobs}. */
export interface GatewayJobsOptions {
  /** The admin key, sent as `Authorization: Bearer` (needed when the gateway has auth on). */
  adminKey?: string | undefined;
  /** How long one call may take, in ms. @default 30000 */
  timeoutMs?: number;
}

/** The error message of an OpenAI-shaped error body, or the body's start. */
function errorMessage(text: string): string {
  try {
    const parsed = z.object({ error: z.object({ message: z.string() }) }).safeParse(
      JSON.parse(text),
    );
    if (parsed.success) return parsed.data.error.message;
  } catch {
    // Not JSON: the text itself says it.
  }
  return text.slice(0, 300) || "(empty body)";
}

/** A {@linkcode JobsController} that is a gateway's `/api/jobs`. */
export class GatewayJobs implements JobsController {
  /** The gateway's base URL. */
  readonly url: string;
  readonly #adminKey: string | undefined;
  readonly #timeoutMs: number;

  /** @param url the gateway's base URL (`http://127.0.0.1:5800`) */
  constructor(url: string, options: GatewayJobsOptions = {}) {
    this.url = url.replace(/\/+$/, "");
    this.#adminKey = options.adminKey;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  start(models?: readonly string[]): Promise<JobStatusRow[]> {
    return this.#call("POST", "/api/jobs/start", models === undefined ? {} : { models });
  }

  scale(model: string, replicas: number): Promise<JobStatusRow[]> {
    return this.#call("POST", "/api/jobs/scale", { model, replicas });
  }

  stop(model?: string): Promise<JobStatusRow[]> {
    return this.#call("POST", "/api/jobs/stop", model === undefined ? {} : { model });
  }

  status(): Promise<JobStatusRow[]> {
    return this.#call("GET", "/api/jobs");
  }

  async #call(method: string, path: string, body?: unknown): Promise<JobStatusRow[]> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.#adminKey !== undefined) headers["authorization"] = `Bearer ${this.#adminKey}`;
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(this.#timeoutMs),
    });
    const text = await response.text();
    if (response.status === 401 || response.status === 403) {
      const answer = `it answered ${response.status}: ${errorMessage(text)}`;
      throw new GatewayJobsError(
        this.#adminKey === undefined
          ? `The gateway at ${this.url} has auth on and refused ${method} ${path}: ` +
            `deno task jobs needs its admin key; set TURNPIKE_ADMIN_KEY or pass --admin-key KEY (${answer})`
          : `The gateway at ${this.url} refused the admin key given for ${method} ${path} ` +
            `(${answer}); check --admin-key or TURNPIKE_ADMIN_KEY against its auth.admin_key_env ` +
            "or auth.admin_key",
        response.status,
      );
    }
    if (!response.ok) {
      throw new GatewayJobsError(
        `The gateway at ${this.url} answered ${method} ${path} with ${response.status}: ${
          errorMessage(text)
        }`,
        response.status,
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new GatewayJobsError(
        `The gateway at ${this.url} answered ${method} ${path} with something that is not JSON: ${
          text.slice(0, 200)
        }`,
        response.status,
      );
    }
    const rows = RowsSchema.safeParse(json);
    if (!rows.success) {
      throw new GatewayJobsError(
        `The gateway at ${this.url} answered ${method} ${path} with rows this CLI cannot read ` +
          `(${rows.error.issues[0]?.path.join(".")}: ${rows.error.issues[0]?.message}); ` +
          "is it the same turnpike version?",
        response.status,
      );
    }
    return rows.data;
  }
}

/**
 * The base URL to reach a gateway listening on `host`:`port` from this machine: a wildcard
 * address (`0.0.0.0`, `::`) is reached on loopback.
 */
export function gatewayUrl(host: string, port: number): string {
  if (host === "0.0.0.0" || host === "") return `http://127.0.0.1:${port}`;
  if (host === "::" || host === "[::]") return `http://[::1]:${port}`;
  return host.includes(":") && !host.startsWith("[")
    ? `http://[${host}]:${port}`
    : `http://${host}:${port}`;
}

/**
 * Whether a gateway answers at `url`: true when `GET /api/jobs` gets any HTTP answer, false when
 * nothing listens (connection refused). Something that accepts but never answers within
 * `timeoutMs` is an error, not "no gateway": running the actors alone beside a busy gateway would
 * submit the same jobs twice.
 */
export async function gatewayAnswers(url: string, timeoutMs = 5_000): Promise<boolean> {
  try {
    const response = await fetch(`${url}/api/jobs`, { signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return true;
  } catch (error) {
    if (error instanceof DOMException && error.name === "TimeoutError") {
      throw new GatewayJobsError(
        `Something listens on ${url} but did not answer GET /api/jobs within ${
          timeoutMs / 1000
        } s; if it is the gateway, wait and retry, else free proxy.port`,
      );
    }
    return false;
  }
}

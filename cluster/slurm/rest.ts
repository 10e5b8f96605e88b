/**
 * `RestSlurm`: the SLURM operations over slurmrestd, the SLURM REST API. The API version is read
 * from the OpenAPI document it serves (the newest both sides speak), requests carry
 * `X-SLURM-USER-NAME` and a JWT in `X-SLURM-USER-TOKEN` (refreshed before it expires), and the
 * script's `#SBATCH` lines travel as job properties, since slurmrestd does not read them.
 */
import { z } from "zod";
import type { JobInfo, Shell, Slurm, SubmitRequest, SubmitResult } from "./types.ts";
import { CliSlurm } from "./cli.ts";
import { parseDirectives } from "./rest/directives.ts";
import { offeredVersions, pickDialect, REST_JOB_PATH, type RestDialect } from "./rest/dialect.ts";
import { type TokenConfig, TokenSource } from "./rest/token.ts";
import { dialect38, Errors } from "./rest/v0_0_38.ts";

/** `cluster.slurm.rest`, as this client reads it. */
export interface RestConfig extends TokenConfig {
  /** slurmrestd's base URL, `http://host:6820`. */
  url: string;
  /** The user in `X-SLURM-USER-NAME`; `queue()` lists this user's jobs. */
  user: string;
}

/** Tuning of {@linkcode RestSlurm} beyond the config. */
export interface RestSlurmOptions {
  /**
   * Talk to slurmrestd's unix socket instead of `url`'s host (slurmrestd `unix:/path`, where
   * `rest_auth/local` authenticates the caller by its uid and no token is needed).
   */
  unixSocket?: string;
  /** How long one request may take. @default 30000 */
  timeoutMs?: number;
  /** The clock tokens expire by. @default Date.now */
  now?: () => number;
}

/** A request slurmrestd answered with an HTTP error, or with an answer that is not JSON. */
export class RestSlurmError extends Error {
  override name = "RestSlurmError";
  readonly status: number;

  /** @param status the HTTP status (0 when it did not answer) */
  constructor(message: string, status: number, options?: ErrorOptions) {
    super(message, options);
    this.status = status;
  }
}

/** What slurmctld answers for a job that has ended, or that it no longer knows (checked live). */
const ALREADY_DONE = /already completing or completed|Invalid job id specified/i;

/** slurmdbd's "Nothing found with query": a job accounting does not hold (yet). */
const NOTHING_FOUND = 9003;

const OpenApi = z.object({ paths: z.record(z.string(), z.unknown()) });

/** A {@linkcode Slurm} over slurmrestd. */
export class RestSlurm implements Slurm {
  readonly kind = "rest" as const;
  readonly #config: RestConfig;
  readonly #files: CliSlurm;
  readonly #tokens: TokenSource;
  readonly #client: Deno.HttpClient | undefined;
  readonly #timeoutMs: number;
  #dialect: Promise<RestDialect> | undefined;

  /** @param shell runs `token_command` and reads job output files (`tail`) on the cluster */
  constructor(config: RestConfig, shell: Shell, options: RestSlurmOptions = {}) {
    this.#config = config;
    this.#files = new CliSlurm(shell);
    this.#tokens = new TokenSource(config, shell, options.now ? { now: options.now } : {});
    this.#client = options.unixSocket === undefined
      ? undefined
      : Deno.createHttpClient({ proxy: { transport: "unix", path: options.unixSocket } });
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** The API version in use (`v0.0.38`), read from slurmrestd's OpenAPI document once. */
  version(): Promise<string> {
    return this.#versioned().then((dialect) => dialect.version);
  }

  /** How many tokens `token_command` fetched. */
  get tokenFetches(): number {
    return this.#tokens.fetches;
  }

  async submit(request: SubmitRequest): Promise<SubmitResult> {
    const dialect = await this.#versioned();
    const job = parseDirectives(request.script);
    if (request.partition !== undefined) job.partition = request.partition;
    if (request.qos !== undefined) job.qos = request.qos;
    if (request.account !== undefined) job.account = request.account;
    job.workingDirectory ??= directoryOf(job.standardOutput) ?? "/tmp";
    const body = dialect.submitBody(request.script, job, { PATH: REST_JOB_PATH });
    const answer = await this.#request("POST", `/slurm/${dialect.version}/job/submit`, body, {
      acceptErrors: true,
    });
    return dialect.parseSubmit(answer.body);
  }

  async queue(
    filter: { jobIds?: readonly string[]; names?: readonly string[] } = {},
  ): Promise<JobInfo[]> {
    const dialect = await this.#versioned();
    const answer = await this.#request("GET", `/slurm/${dialect.version}/jobs`);
    const ids = filter.jobIds ? new Set(filter.jobIds) : undefined;
    const names = filter.names ? new Set(filter.names) : undefined;
    return dialect.parseJobs(answer.body).filter((job) =>
      (job.user === undefined || job.user === this.#config.user) &&
      (!ids || ids.has(job.jobId)) && (!names || names.has(job.name))
    ).map(({ user: _user, ...job }) => job);
  }

  async accounting(jobIds: readonly string[]): Promise<JobInfo[]> {
    const dialect = await this.#versioned();
    const answers = await Promise.all(jobIds.map(async (id) => {
      const answer = await this.#request(
        "GET",
        `/slurmdb/${dialect.version}/job/${encodeURIComponent(id)}`,
        undefined,
        { acceptErrors: true },
      );
      if (answer.ok) return dialect.parseAccounting(answer.body);
      if (errorNumbers(answer.body).includes(NOTHING_FOUND)) return [];
      throw this.#failure("GET", `/slurmdb/${dialect.version}/job/${id}`, answer, dialect);
    }));
    return answers.flat();
  }

  async cancel(jobId: string, options: { signal?: string } = {}): Promise<void> {
    const dialect = await this.#versioned();
    const query = options.signal === undefined
      ? ""
      : `?signal=${encodeURIComponent(options.signal)}`;
    const path = `/slurm/${dialect.version}/job/${encodeURIComponent(jobId)}${query}`;
    const answer = await this.#request("DELETE", path, undefined, { acceptErrors: true });
    const errors = dialect.errors(answer.body);
    // As CliSlurm: a job that has ended (or been purged, MinJobAge later) is cancelled already.
    if (errors.some((text) => ALREADY_DONE.test(text))) return;
    if (!answer.ok || errors.length > 0) throw this.#failure("DELETE", path, answer, dialect);
  }

  /** Reads a job's output through the shell, as the CLI does (slurmrestd serves no files). */
  readFile(path: string, offset = 0): Promise<string> {
    return this.#files.readFile(path, offset);
  }

  /** The cluster user's home directory, through the shell. */
  home(): Promise<string> {
    return this.#files.home();
  }

  close(): Promise<void> {
    this.#client?.close();
    return Promise.resolve();
  }

  #versioned(): Promise<RestDialect> {
    this.#dialect ??= this.#detect().catch((error) => {
      this.#dialect = undefined;
      throw error;
    });
    return this.#dialect;
  }

  async #detect(): Promise<RestDialect> {
    let paths: string[] = [];
    for (const path of ["/openapi/v3", "/openapi"]) {
      const answer = await this.#request("GET", path, undefined, { acceptErrors: true });
      const doc = OpenApi.safeParse(answer.body);
      if (answer.ok && doc.success) {
        paths = Object.keys(doc.data.paths);
        break;
      }
      if (answer.status === 401 || answer.status === 403) {
        throw new RestSlurmError(
          this.#tokens.enabled
            ? `slurmrestd at ${this.#config.url} refused the token of ${this.#config.user} (${answer.status}): ` +
              `check cluster.slurm.rest.user and token or token_command`
            : `slurmrestd at ${this.#config.url} wants a token (${answer.status}): ` +
              `set cluster.slurm.rest.token or token_command`,
          answer.status,
        );
      }
    }
    const dialect = pickDialect(paths);
    if (!dialect) {
      const offered = offeredVersions(paths);
      throw new RestSlurmError(
        `slurmrestd at ${this.#config.url} offers ${
          offered.length ? `API ${offered.join(", ")}` : "no job submit API"
        }; turnpike speaks v0.0.38 and v0.0.40 to v0.0.44: use cluster.slurm.api: cli`,
        0,
      );
    }
    return dialect;
  }

  async #request(
    method: string,
    path: string,
    body?: unknown,
    options: { acceptErrors?: boolean; retried?: boolean } = {},
  ): Promise<{ ok: boolean; status: number; body: unknown; text: string }> {
    const headers: Record<string, string> = { "X-SLURM-USER-NAME": this.#config.user };
    if (this.#tokens.enabled) headers["X-SLURM-USER-TOKEN"] = await this.#tokens.get();
    if (body !== undefined) headers["content-type"] = "application/json";
    const url = new URL(path, this.#config.url);
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        signal: AbortSignal.timeout(this.#timeoutMs),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(this.#client ? { client: this.#client } : {}),
      });
    } catch (error) {
      throw new RestSlurmError(
        `Cannot reach slurmrestd at ${this.#config.url} (${method} ${path}): ${
          (error as Error).message
        }`,
        0,
        { cause: error },
      );
    }
    const text = await response.text();
    if ((response.status === 401 || response.status === 403) && !options.retried) {
      if (this.#config.token_command !== undefined) {
        this.#tokens.invalidate();
        return await this.#request(method, path, body, { ...options, retried: true });
      }
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const answer = { ok: response.ok, status: response.status, body: parsed, text };
    if (!options.acceptErrors && (!response.ok || parsed === undefined)) {
      throw this.#failure(method, path, answer);
    }
    return answer;
  }

  #failure(
    method: string,
    path: string,
    answer: { status: number; body: unknown; text: string },
    dialect?: RestDialect,
  ): RestSlurmError {
    // Every version's `errors[]` carries `error` and `description`.
    const errors = (dialect ?? dialect38).errors(answer.body);
    const detail = errors.length ? errors.join("; ") : answer.text.trim().slice(0, 300);
    return new RestSlurmError(
      `slurmrestd ${method} ${path} answered ${answer.status}: ${detail}`,
      answer.status,
    );
  }
}

function errorNumbers(body: unknown): number[] {
  return Errors.safeParse(body).data?.errors.flatMap((e) => e.error_number ?? []) ?? [];
}

/** The directory of an absolute output path (`/scratch/jobs/%j.out` gives `/scratch/jobs`). */
function directoryOf(path: string | undefined): string | undefined {
  if (path === undefined || !path.startsWith("/")) return undefined;
  return path.slice(0, path.lastIndexOf("/")) || "/";
}

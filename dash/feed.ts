/**
 * One poll of the gateway's JSON endpoints: every endpoint the dashboards show, each parsed to a
 * typed value, absent (404: this gateway has no such endpoint) or failed, never thrown.
 */
import type { z } from "zod";
import { BackendsBody, HealthBody, type JobRow, JobsBody, StatsBody } from "./feed_schemas.ts";
import { BottlenecksBody, RoutingBody, SessionsBody, SloBody } from "./feed_schemas_analysis.ts";

/** What one endpoint gave. */
export type EndpointResult<T> =
  | { state: "ok"; data: T }
  | { state: "absent" }
  | { state: "error"; message: string };

/** The endpoints the dashboards poll, by name: the TUI over HTTP, `/dashboard/events` in-process. */
export const ENDPOINTS = {
  health: "/health/detailed",
  backends: "/api/backends",
  stats: "/api/stats?limit=50",
  sessions: "/api/sessions",
  bottlenecks: "/api/bottlenecks",
  slo: "/api/slo",
  routing: "/api/routing",
  jobs: "/api/jobs",
} as const;

/** One endpoint's name. */
export type EndpointName = keyof typeof ENDPOINTS;

/** Every endpoint's answer at one moment. */
export interface Snapshot {
  /** When the poll started, ms since the epoch. */
  atMs: number;
  health: EndpointResult<z.infer<typeof HealthBody>>;
  backends: EndpointResult<z.infer<typeof BackendsBody>>;
  stats: EndpointResult<z.infer<typeof StatsBody>>;
  sessions: EndpointResult<z.infer<typeof SessionsBody>>;
  bottlenecks: EndpointResult<z.infer<typeof BottlenecksBody>>;
  slo: EndpointResult<z.infer<typeof SloBody>>;
  routing: EndpointResult<z.infer<typeof RoutingBody>>;
  jobs: EndpointResult<JobRow[]>;
}

const SCHEMAS = {
  health: HealthBody,
  backends: BackendsBody,
  stats: StatsBody,
  sessions: SessionsBody,
  bottlenecks: BottlenecksBody,
  slo: SloBody,
  routing: RoutingBody,
  jobs: JobsBody,
} as const;

/** Sends a GET for `path` (a path and query on the gateway) and answers its response. */
export type GetPath = (path: string) => Promise<Response>;

/** The gateway could not be reached at all: the dashboards show "disconnected". */
export class Disconnected extends Error {
  /** @param message why, as the first failed request said it */
  constructor(message: string) {
    super(message);
    this.name = "Disconnected";
  }
}

/** The message of a non-2xx answer: the OpenAI-shaped error's, with what to do for 401/403. */
async function failureOf(response: Response): Promise<string> {
  let message = `HTTP ${response.status}`;
  try {
    const body = await response.json();
    if (typeof body?.error?.message === "string") message += `: ${body.error.message}`;
  } catch {
    // Not JSON: the status says enough.
  }
  if (response.status === 401 || response.status === 403) {
    message += " (pass the admin key: TURNPIKE_ADMIN_KEY or --admin-key)";
  }
  return message;
}

/** Parses one endpoint's response. `/health/detailed` answers 503 with its body when unhealthy. */
export async function readEndpoint<N extends EndpointName>(
  name: N,
  response: Response,
): Promise<Snapshot[N]> {
  const usable = response.ok || (name === "health" && response.status === 503);
  if (response.status === 404) {
    await response.body?.cancel();
    return { state: "absent" } as Snapshot[N];
  }
  if (!usable) return { state: "error", message: await failureOf(response) } as Snapshot[N];
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    return { state: "error", message: "the answer is not JSON" } as Snapshot[N];
  }
  const parsed = SCHEMAS[name].safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join(".") : "body";
    return {
      state: "error",
      message: `unexpected answer at ${where}: ${issue?.message ?? "invalid"}`,
    } as Snapshot[N];
  }
  return { state: "ok", data: parsed.data } as Snapshot[N];
}

/**
 * Polls every endpoint at once. Throws {@linkcode Disconnected} when none could be reached (a
 * refused connection, a timeout); an endpoint that answered with an error is kept as such.
 */
export async function fetchSnapshot(get: GetPath, atMs = Date.now()): Promise<Snapshot> {
  const names = Object.keys(ENDPOINTS) as EndpointName[];
  const settled = await Promise.allSettled(names.map(async (name) => {
    const response = await get(ENDPOINTS[name]);
    return await readEndpoint(name, response);
  }));
  const failures = settled.filter((s) => s.status === "rejected");
  if (failures.length === names.length) {
    const reason = (failures[0] as PromiseRejectedResult).reason;
    throw new Disconnected(reason instanceof Error ? reason.message : String(reason));
  }
  const snapshot: Record<string, unknown> = { atMs };
  names.forEach((name, i) => {
    const s = settled[i]!;
    snapshot[name] = s.status === "fulfilled" ? s.value : {
      state: "error",
      message: s.reason instanceof Error ? s.reason.message : String(s.reason),
    };
  });
  return snapshot as unknown as Snapshot;
}

/** Options of {@linkcode httpGetter}. */
export interface HttpGetterOptions {
  /** The admin key, sent as `Authorization: Bearer` (needed once the gateway has auth on). */
  adminKey?: string;
  /** How long one request may take, in ms. @default 5000 */
  timeoutMs?: number;
}

/** A {@linkcode GetPath} over HTTP to the gateway at `baseUrl`. */
export function httpGetter(baseUrl: string, options: HttpGetterOptions = {}): GetPath {
  const base = baseUrl.replace(/\/+$/, "");
  const headers: Record<string, string> = options.adminKey
    ? { authorization: `Bearer ${options.adminKey}` }
    : {};
  return (path) =>
    fetch(`${base}${path}`, { headers, signal: AbortSignal.timeout(options.timeoutMs ?? 5_000) });
}

/**
 * The gateway's JSON endpoints as the dashboards read them: zod schemas of the fields they show,
 * lenient about fields they do not (a newer gateway may add some).
 */
import { z } from "zod";

const nullableNumber = z.number().nullable().catch(null);
const nullableString = z.string().nullable().catch(null);

/** One backend of `GET /api/backends`. */
export const BackendRow = z.object({
  id: z.string(),
  model: z.string(),
  url: z.string(),
  source: z.string().catch("unknown"),
  healthy: z.boolean().nullable().catch(null),
  eligible: z.boolean().catch(false),
  circuit: z.string().catch("closed"),
  in_flight: z.number().catch(0),
  completed: z.number().catch(0),
  failed: z.number().catch(0),
  ewma_ttft_ms: nullableNumber,
  ewma_latency_ms: nullableNumber,
  load: z.object({
    running: z.number().optional(),
    waiting: z.number().optional(),
    kvUsage: z.number().optional(),
    prefixQueries: z.number().optional(),
    prefixHits: z.number().optional(),
  }).nullable().catch(null),
  last_error: nullableString,
});

/** A backend as the dashboards read it. */
export type BackendRow = z.infer<typeof BackendRow>;

/** `GET /api/backends`. */
export const BackendsBody = z.object({ backends: z.array(BackendRow) });

/** `GET /api/backends`'s body. */
export type BackendsBody = z.infer<typeof BackendsBody>;

const Percentiles = z.object({
  p50: z.number().optional(),
  p95: z.number().optional(),
  p99: z.number().optional(),
}).catch({});

/** One model's admission counters in `GET /api/stats`. */
export const AdmissionRow = z.object({
  admittedAfterWait: z.number().catch(0),
  queueFull: z.number().catch(0),
  shed: z.number().catch(0),
  abandoned: z.number().catch(0),
  waiting: z.number().catch(0),
  limits: z.record(z.string(), z.number()).catch({}),
});

/** One model's admission counters. */
export type AdmissionRow = z.infer<typeof AdmissionRow>;

/** One request record in `GET /api/stats`'s `recent`. */
export const RecentRecord = z.object({
  requestId: z.string(),
  model: z.string().optional(),
  status: z.number().optional(),
  sessionId: z.string().optional(),
  taskId: z.string().optional(),
  backendId: z.string().optional(),
  startedAtMs: z.number().optional(),
  totalMs: z.number().optional(),
  upstreamTtftMs: z.number().optional(),
});

/** `GET /api/stats`. */
export const StatsBody = z.object({
  summary: z.object({
    total: z.number().catch(0),
    byStatus: z.record(z.string(), z.number()).catch({}),
    sessions: z.number().catch(0),
    gatewayMs: Percentiles,
    upstreamTtftMs: Percentiles,
    totalMs: Percentiles,
    promptTokens: z.number().catch(0),
    completionTokens: z.number().catch(0),
  }),
  admission: z.record(z.string(), AdmissionRow).catch({}),
  recent: z.array(RecentRecord).catch([]),
});

/** `GET /api/stats`'s body. */
export type StatsBody = z.infer<typeof StatsBody>;

/** `GET /health/detailed` (the dashboards' header). */
export const HealthBody = z.object({
  status: z.string(),
  version: z.string().catch("?"),
  uptime_s: z.number().catch(0),
  kv: z.object({ reachable: z.boolean(), latency_ms: nullableNumber }).catch({
    reachable: false,
    latency_ms: null,
  }),
  actors: z.object({ restarts: z.number().catch(0) }).catch({ restarts: 0 }),
});

/** `GET /health/detailed`'s body, the parts shown. */
export type HealthBody = z.infer<typeof HealthBody>;

/** One row of `GET /api/jobs` (actors/job/types.ts's `JobStatusRow`; undefined fields are absent in JSON). */
export const JobRow = z.object({
  model: z.string(),
  replica: z.number(),
  jobId: z.string().optional(),
  kind: z.string().catch("?"),
  phase: z.string(),
  slurmState: z.string().optional(),
  partition: z.string().optional(),
  node: z.string().optional(),
  pendingReason: z.string().optional(),
  sinceMs: z.number().catch(0),
  endpoint: z.string().optional(),
  health: z.string().catch("unknown"),
  attempts: z.number().catch(0),
  lastError: z.string().optional(),
});

/** A job as the dashboards read it. */
export type JobRow = z.infer<typeof JobRow>;

/** `GET /api/jobs`: a list under `jobs` (or `data`), or the bare list. */
export const JobsBody = z.union([
  z.object({ jobs: z.array(JobRow) }).transform((b) => b.jobs),
  z.object({ data: z.array(JobRow) }).transform((b) => b.data),
  z.array(JobRow),
]);

/** Answers recorded from a real gateway (two simulated replicas, a few requests), for the dashboards' tests. */
import { type EndpointName, readEndpoint, type Snapshot } from "./feed.ts";

/** `GET /api/backends` with one replica busy and one down with an open circuit. */
export const BACKENDS = {
  backends: [
    {
      id: "127.0.0.1:46185",
      model: "llama-3.1-8b-sim",
      url: "http://127.0.0.1:46185",
      source: "launched",
      healthy: true,
      eligible: true,
      circuit: "closed",
      in_flight: 3,
      completed: 40,
      failed: 0,
      ewma_ttft_ms: 21.5,
      ewma_latency_ms: 37.9,
      load: { running: 3, waiting: 1, kvUsage: 0.42, prefixQueries: 200, prefixHits: 50 },
      last_error: null,
    },
    {
      id: "127.0.0.1:33551",
      model: "llama-3.1-8b-sim",
      url: "http://127.0.0.1:33551",
      source: "launched",
      healthy: false,
      eligible: false,
      circuit: "open",
      in_flight: 0,
      completed: 1,
      failed: 5,
      ewma_ttft_ms: null,
      ewma_latency_ms: null,
      load: null,
      last_error: "connection refused",
    },
  ],
};

/** `GET /api/stats` (trimmed to what the dashboards read, plus a field they ignore). */
export const STATS = {
  scope: "local",
  summary: {
    total: 41,
    kept: 41,
    byStatus: { "2xx": 40, "5xx": 1 },
    sessions: 2,
    gatewayMs: { p50: 1.2, p95: 3.4, p99: 9.9 },
    upstreamTtftMs: { p50: 20, p95: 31 },
    totalMs: { p50: 48.3, p95: 60, p99: 70 },
    promptTokens: 1440,
    completionTokens: 200,
  },
  admission: {
    "llama-3.1-8b-sim": {
      admittedAfterWait: 4,
      queueFull: 0,
      shed: 1,
      abandoned: 0,
      waiting: 2,
      limits: { "127.0.0.1:33551": 8, "127.0.0.1:46185": 8 },
    },
  },
  recent: [{ requestId: "769c1fa3", model: "llama-3.1-8b-sim", status: 200, totalMs: 48.2 }],
};

/** `GET /health/detailed` (the parts the header reads). */
export const HEALTH = {
  status: "degraded",
  version: "0.1.0",
  uptime_s: 125,
  kv: { reachable: true, latency_ms: 0.8, error: null },
  actors: { restarts: 1, supervision: {} },
  jobs: [],
};

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** A snapshot from these answers; the endpoints in `absent` answer 404. */
export async function recordedSnapshot(
  atMs: number,
  extra: Partial<Record<EndpointName, { body: unknown; status?: number }>> = {},
): Promise<Snapshot> {
  const answers: Record<EndpointName, { body: unknown; status?: number }> = {
    health: { body: HEALTH },
    backends: { body: BACKENDS },
    stats: { body: STATS },
    sessions: { body: { error: { message: "No route" } }, status: 404 },
    bottlenecks: { body: { error: { message: "No route" } }, status: 404 },
    slo: { body: { error: { message: "No route" } }, status: 404 },
    routing: { body: { error: { message: "No route" } }, status: 404 },
    jobs: { body: { error: { message: "No route" } }, status: 404 },
    ...extra,
  };
  const out: Record<string, unknown> = { atMs };
  for (const [name, a] of Object.entries(answers)) {
    out[name] = await readEndpoint(name as EndpointName, json(a.body, a.status));
  }
  return out as unknown as Snapshot;
}

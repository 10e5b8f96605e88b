/**
 * The dashboards' view model: a pure function from the feed's state to panels of rows, the same
 * for the terminal dashboard and the web page (which gets it as JSON over SSE).
 */
import type { EndpointName, EndpointResult, Snapshot } from "./feed.ts";
import { ENDPOINTS } from "./feed.ts";
import type { AdmissionRow, BackendRow, JobRow, StatsBody } from "./feed_schemas.ts";
import type { Item, Scalar } from "./feed_schemas_analysis.ts";
import { formatCount, formatDuration, formatMs, formatPercent } from "./format.ts";
import { type History, loadKey, ttftKey } from "./history.ts";
import type { Connection, FeedState } from "./poller.ts";

/** How a row or line should be coloured. */
export type Tone = "ok" | "warn" | "bad" | "muted" | "plain";

/** One row of a panel. */
export interface Row {
  /** Stable across polls, so a selection and an expansion stay on the same thing. */
  key: string;
  cells: string[];
  tone: Tone;
  /** Lines shown when the row is expanded. */
  detail: string[];
  /** Histories drawn as sparklines beside the row, by label. */
  sparks?: Record<string, (number | null)[]>;
}

/** The panels, in the order Tab cycles through them. */
export const PANEL_IDS = ["backends", "queue", "sessions", "bottlenecks", "slo", "jobs"] as const;

/** One panel's id. */
export type PanelId = typeof PANEL_IDS[number];

/** One panel. */
export interface Panel {
  id: PanelId;
  title: string;
  /** Why there are no rows, when there are none: the endpoint is absent, failed, or has nothing. */
  note: string | null;
  columns: string[];
  rows: Row[];
}

/** One line series of a chart. */
export interface ChartSeries {
  name: string;
  values: (number | null)[];
}

/** What the dashboards draw. */
export interface ViewModel {
  atMs: number;
  connection: { state: Connection["state"]; text: string; tone: Tone };
  /** Summary lines above the panels. */
  header: string[];
  panels: Panel[];
  /** The histories as charts: load and TTFT per backend, on `timesMs`. */
  charts: { timesMs: number[]; load: ChartSeries[]; ttft: ChartSeries[] };
}

/** The note for an endpoint that gave no data; null when it did. */
function noteOf(name: EndpointName, result: EndpointResult<unknown> | undefined): string | null {
  if (result === undefined) return "waiting for the first answer";
  const path = ENDPOINTS[name].split("?")[0];
  if (result.state === "absent") return `GET ${path} is not on this gateway (404)`;
  if (result.state === "error") return `GET ${path} failed: ${result.message}`;
  return null;
}

function connectionLine(connection: Connection, nowMs: number): ViewModel["connection"] {
  switch (connection.state) {
    case "connecting":
      return { state: "connecting", text: "connecting", tone: "warn" };
    case "connected":
      return { state: "connected", text: "connected", tone: "ok" };
    case "disconnected": {
      const inS = Math.max(0, Math.ceil((connection.retryAtMs - nowMs) / 1000));
      return {
        state: "disconnected",
        text: `disconnected (${connection.error}); retry ${connection.attempts} in ${inS}s`,
        tone: "bad",
      };
    }
  }
}

function headerLines(snapshot: Snapshot | undefined): string[] {
  if (!snapshot) return [];
  const lines: string[] = [];
  const h = snapshot.health;
  if (h.state === "ok") {
    const kv = h.data.kv.reachable ? `kv ${formatMs(h.data.kv.latency_ms)}` : "kv UNREACHABLE";
    lines.push(
      `status ${h.data.status}  turnpike ${h.data.version}  up ${
        formatDuration(h.data.uptime_s)
      }  ${kv}  actor restarts ${h.data.actors.restarts}`,
    );
  } else lines.push(noteOf("health", h) ?? "");
  const s = snapshot.stats;
  if (s.state === "ok") lines.push(statsLine(s.data.summary));
  const r = snapshot.routing;
  if (r.state === "ok") lines.push(`routing ${itemText(r.data, 6)}`);
  return lines;
}

function statsLine(summary: StatsBody["summary"]): string {
  const statuses = Object.entries(summary.byStatus).sort().map(([k, v]) => `${k} ${formatCount(v)}`)
    .join(" ");
  return [
    `requests ${formatCount(summary.total)}${statuses ? ` (${statuses})` : ""}`,
    `sessions ${summary.sessions}`,
    `gateway p50 ${formatMs(summary.gatewayMs.p50)} p95 ${formatMs(summary.gatewayMs.p95)}`,
    `ttft p50 ${formatMs(summary.upstreamTtftMs.p50)} p95 ${formatMs(summary.upstreamTtftMs.p95)}`,
    `tokens ${formatCount(summary.promptTokens)} in ${formatCount(summary.completionTokens)} out`,
  ].join("  ");
}

function backendTone(b: BackendRow): Tone {
  if (b.healthy === false || b.circuit === "open") return "bad";
  if (b.healthy === null || !b.eligible || b.circuit !== "closed") return "warn";
  return "ok";
}

function backendHealth(b: BackendRow): string {
  const probe = b.healthy === null ? "unknown" : b.healthy ? "healthy" : "down";
  return b.circuit === "closed" ? probe : `${probe}/${b.circuit}`;
}

function prefixRatio(b: BackendRow): number | null {
  const q = b.load?.prefixQueries;
  return q === undefined || q === 0 ? null : (b.load?.prefixHits ?? 0) / q;
}

function backendsPanel(snapshot: Snapshot | undefined, history: History): Panel {
  const result = snapshot?.backends;
  const columns = [
    "backend",
    "model",
    "health",
    "in flight",
    "run/wait",
    "ttft",
    "latency",
    "kv",
    "prefix hits",
  ];
  if (result?.state !== "ok") {
    return {
      id: "backends",
      title: "Backends",
      note: noteOf("backends", result),
      columns,
      rows: [],
    };
  }
  const rows = result.data.backends.map((b): Row => ({
    key: `${b.model}/${b.id}`,
    cells: [
      b.id,
      b.model,
      backendHealth(b),
      String(b.in_flight),
      b.load?.running === undefined ? "-" : `${b.load.running}/${b.load.waiting ?? 0}`,
      formatMs(b.ewma_ttft_ms),
      formatMs(b.ewma_latency_ms),
      formatPercent(b.load?.kvUsage),
      formatPercent(prefixRatio(b)),
    ],
    tone: backendTone(b),
    detail: [
      `url ${b.url}  source ${b.source}  circuit ${b.circuit}  eligible ${b.eligible}`,
      `completed ${b.completed}  failed ${b.failed}  prefix tokens ${
        b.load?.prefixHits ?? "-"
      } hit of ${b.load?.prefixQueries ?? "-"}`,
      ...(b.last_error ? [`last error: ${b.last_error}`] : []),
    ],
    sparks: {
      load: history.series[loadKey(b.id)] ?? [],
      ttft: history.series[ttftKey(b.id)] ?? [],
    },
  }));
  return {
    id: "backends",
    title: "Backends",
    note: rows.length === 0 ? "no backends" : null,
    columns,
    rows,
  };
}

function queueRow(model: string, a: AdmissionRow): Row {
  const limits = Object.entries(a.limits);
  return {
    key: model,
    cells: [
      model,
      String(a.waiting),
      formatCount(a.admittedAfterWait),
      formatCount(a.queueFull),
      formatCount(a.shed),
      formatCount(a.abandoned),
      String(limits.reduce((sum, [, n]) => sum + n, 0)),
    ],
    tone: a.waiting > 0 ? "warn" : a.queueFull + a.shed > 0 ? "warn" : "plain",
    detail: limits.length === 0
      ? ["no per-backend limits yet"]
      : limits.map(([id, n]) => `limit ${n} concurrent on ${id}`),
  };
}

function queuePanel(snapshot: Snapshot | undefined): Panel {
  const result = snapshot?.stats;
  const columns = [
    "model",
    "waiting",
    "admitted after wait",
    "queue full",
    "shed",
    "abandoned",
    "limit",
  ];
  if (result?.state !== "ok") {
    return {
      id: "queue",
      title: "Request queue",
      note: noteOf("stats", result),
      columns,
      rows: [],
    };
  }
  const rows = Object.entries(result.data.admission).sort(([a], [b]) => a.localeCompare(b))
    .map(([model, a]) => queueRow(model, a));
  return {
    id: "queue",
    title: "Request queue",
    note: rows.length === 0 ? "admission control reports no model" : null,
    columns,
    rows,
  };
}

function scalarText(value: Scalar): string {
  if (value === null) return "-";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toFixed(3);
  return String(value);
}

function itemText(item: Item, fields: number): string {
  return Object.entries(item).slice(0, fields).map(([k, v]) => `${k} ${scalarText(v)}`).join("  ");
}

/** The key of a listed item: its id-like field, else its position. */
function itemKey(item: Item, index: number): string {
  for (const field of ["id", "session_id", "sessionId", "key", "name", "model", "cause"]) {
    const v = item[field];
    if (typeof v === "string" || typeof v === "number") return String(v);
  }
  return `#${index}`;
}

function listPanel(
  id: PanelId,
  title: string,
  name: EndpointName,
  result: EndpointResult<Item[]> | undefined,
  maxColumns: number,
): Panel {
  if (result?.state !== "ok") {
    return { id, title, note: noteOf(name, result), columns: [], rows: [] };
  }
  const items = result.data;
  const columns = [...new Set(items.flatMap((item) => Object.keys(item)))].slice(0, maxColumns);
  const rows = items.map((item, i): Row => ({
    key: itemKey(item, i),
    cells: columns.map((c) => scalarText(item[c] ?? null)),
    tone: "plain",
    detail: Object.entries(item).map(([k, v]) => `${k}: ${scalarText(v)}`),
  }));
  return { id, title, note: rows.length === 0 ? "none" : null, columns, rows };
}

function jobTone(job: JobRow): Tone {
  if (job.phase === "failed" || job.health === "unhealthy") return "bad";
  if (job.phase === "healthy") return "ok";
  if (job.phase === "cancelled") return "muted";
  return "warn";
}

function jobsPanel(snapshot: Snapshot | undefined, nowMs: number): Panel {
  const result = snapshot?.jobs;
  const columns = ["model", "replica", "kind", "job", "phase", "health", "where", "for"];
  if (result?.state !== "ok") {
    return { id: "jobs", title: "Jobs", note: noteOf("jobs", result), columns, rows: [] };
  }
  const rows = result.data.map((job): Row => ({
    key: `${job.model}/${job.replica}`,
    cells: [
      job.model,
      String(job.replica),
      job.kind,
      job.jobId ?? "-",
      job.slurmState ? `${job.phase} (${job.slurmState})` : job.phase,
      job.health,
      [job.partition, job.node].filter((s) => s !== undefined).join("/") || "-",
      formatDuration((nowMs - job.sinceMs) / 1000),
    ],
    tone: jobTone(job),
    detail: [
      `endpoint ${job.endpoint ?? "-"}  attempts ${job.attempts}`,
      ...(job.pendingReason ? [`pending: ${job.pendingReason}`] : []),
      ...(job.lastError ? [`last error: ${job.lastError}`] : []),
    ],
  }));
  return { id: "jobs", title: "Jobs", note: rows.length === 0 ? "no jobs" : null, columns, rows };
}

function chartsOf(snapshot: Snapshot | undefined, history: History): ViewModel["charts"] {
  const ids = snapshot?.backends.state === "ok"
    ? snapshot.backends.data.backends.map((b) => b.id)
    : [];
  const series = (key: (id: string) => string) =>
    ids.map((id) => ({
      name: id,
      values: history.series[key(id)] ?? history.timesMs.map(() => null),
    }));
  return { timesMs: history.timesMs, load: series(loadKey), ttft: series(ttftKey) };
}

/** The view model of `state` at `nowMs`. */
export function viewModel(state: FeedState, nowMs: number): ViewModel {
  const { snapshot, history } = state;
  return {
    atMs: snapshot?.atMs ?? nowMs,
    connection: connectionLine(state.connection, nowMs),
    header: headerLines(snapshot),
    panels: [
      backendsPanel(snapshot, history),
      queuePanel(snapshot),
      listPanel("sessions", "Sessions", "sessions", snapshot?.sessions, 7),
      listPanel("bottlenecks", "Bottlenecks", "bottlenecks", snapshot?.bottlenecks, 5),
      listPanel("slo", "SLOs", "slo", snapshot?.slo, 7),
      jobsPanel(snapshot, nowMs),
    ],
    charts: chartsOf(snapshot, history),
  };
}

/**
 * The dashboards' view model: a pure function from the feed's state to panels of rows, the same
 * for the terminal dashboard and the web page (which gets it as JSON over SSE).
 */
import type { EndpointName, EndpointResult, Snapshot } from "./feed.ts";
import { ENDPOINTS } from "./feed.ts";
import type { AdmissionRow, BackendRow, JobRow, StatsBody } from "./feed_schemas.ts";
import type {
  BottlenecksBody,
  Finding,
  RoutingBody,
  SessionRow,
  SloBody,
} from "./feed_schemas_analysis.ts";
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
  /** Lines shown above the table (the bottlenecks' time shares). */
  summary: string[];
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
  if (r.state === "ok") lines.push(...routingLines(r.data));
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
      summary: [],
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
    summary: [],
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
      summary: [],
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
    summary: [],
    columns,
    rows,
  };
}

function sessionsPanel(snapshot: Snapshot | undefined, nowMs: number): Panel {
  const result = snapshot?.sessions;
  const columns = [
    "session",
    "task",
    "model",
    "turns",
    "last turn",
    "last active",
    "tokens in/out",
    "errors",
    "backend",
  ];
  const base = { id: "sessions" as const, title: "Sessions", summary: [], columns };
  if (result?.state !== "ok") return { ...base, note: noteOf("sessions", result), rows: [] };
  const recent = snapshot?.stats.state === "ok" ? snapshot.stats.data.recent : [];
  const rows = result.data.data.map((s: SessionRow): Row => {
    const lastMs = Date.parse(s.last_turn_at);
    const turns = recent.filter((r) => r.sessionId === s.session_id);
    return {
      key: s.session_id,
      cells: [
        s.session_id,
        s.task_id ?? "-",
        s.model,
        String(s.turns),
        formatMs(s.last_turn_ms),
        Number.isFinite(lastMs) ? `${formatDuration((nowMs - lastMs) / 1000)} ago` : "-",
        `${formatCount(s.prompt_tokens)}/${formatCount(s.completion_tokens)}`,
        String(s.errors),
        s.backend ?? "-",
      ],
      tone: s.errors > 0 ? "warn" : "plain",
      detail: [
        `client ${s.client_id ?? "-"}  first turn ${s.first_turn_at}  last turn ${s.last_turn_at}`,
        ...(turns.length === 0
          ? ["no turn among the gateway's 50 latest records"]
          : turns.map((r) =>
            `turn ${
              r.startedAtMs === undefined
                ? "?"
                : new Date(r.startedAtMs).toISOString().slice(11, 23)
            }  status ${r.status ?? "?"}  ${formatMs(r.totalMs)}  ttft ${
              formatMs(r.upstreamTtftMs)
            }  on ${r.backendId ?? "-"}`
          )),
      ],
    };
  });
  const more = result.data.total > rows.length
    ? ` (${rows.length} of ${result.data.total} shown)`
    : "";
  return {
    ...base,
    note: rows.length === 0 ? "no session active in the last minutes" : null,
    summary: more ? [`sessions${more}`] : [],
    rows,
  };
}

const SEVERITY_TONE: Record<string, Tone> = { critical: "bad", warning: "warn", info: "plain" };

function findingRow(f: Finding, i: number): Row {
  const evidence = Object.entries(f.evidence).map(([k, v]) =>
    `${k} ${Number.isInteger(v) ? v : v.toFixed(3)}`
  );
  return {
    key: `${f.rule}/${f.model ?? "*"}/${i}`,
    cells: [f.severity, f.rule, f.model ?? "all", f.cause, f.recommendation],
    tone: SEVERITY_TONE[f.severity] ?? "plain",
    detail: [
      `cause: ${f.cause}`,
      `recommendation: ${f.recommendation}`,
      ...(evidence.length ? [`evidence: ${evidence.join("  ")}`] : []),
    ],
  };
}

/** The components' shares, the largest first, as one line (those with no time left out). */
function sharesLine(body: BottlenecksBody): string {
  const parts = body.components.filter((c) => c.share > 0).map((c) =>
    `${c.component} ${formatPercent(c.share)} (p95 ${formatMs(c.p95_ms)})`
  );
  return `where ${body.turns} turns' ${formatMs(body.wall_ms)} went over ${
    formatDuration(body.window_s)
  }: ${parts.length ? parts.join("  ") : "nothing measured"}`;
}

function bottlenecksPanel(snapshot: Snapshot | undefined): Panel {
  const result = snapshot?.bottlenecks;
  const columns = ["severity", "rule", "model", "cause", "recommendation"];
  const base = { id: "bottlenecks" as const, title: "Bottlenecks", columns };
  if (result?.state !== "ok") {
    return { ...base, summary: [], note: noteOf("bottlenecks", result), rows: [] };
  }
  const rows = result.data.findings.map(findingRow);
  return {
    ...base,
    summary: [sharesLine(result.data)],
    note: rows.length === 0 ? "no bottleneck stands out" : null,
    rows,
  };
}

function objectiveValue(objective: string, value: number | null): string {
  return objective === "error_rate" ? formatPercent(value) : formatMs(value);
}

function sloPanel(snapshot: Snapshot | undefined): Panel {
  const result = snapshot?.slo;
  const columns = [
    "model",
    "objective",
    "target",
    "value",
    "burn",
    "state",
    "samples",
    "violations",
  ];
  const base = { id: "slo" as const, title: "SLOs", summary: [], columns };
  if (result?.state !== "ok") return { ...base, note: noteOf("slo", result), rows: [] };
  const rows = result.data.models.flatMap((m: SloBody["models"][number]) =>
    m.objectives.map((o): Row => ({
      key: `${m.model}/${o.objective}`,
      cells: [
        m.model,
        o.objective,
        objectiveValue(o.objective, o.target),
        objectiveValue(o.objective, o.value),
        o.burn === null ? "-" : o.burn.toFixed(2),
        o.violated ? "VIOLATED" : o.samples === 0 ? "no samples" : "met",
        String(o.samples),
        String(o.violations_total),
      ],
      tone: o.violated
        ? "bad"
        : o.burn !== null && o.burn > 0.8
        ? "warn"
        : o.samples === 0
        ? "muted"
        : "ok",
      detail: [
        `window ${formatDuration(m.window_s)}  model burn ${
          m.burn === null ? "-" : m.burn.toFixed(2)
        }`,
      ],
    }))
  );
  return { ...base, note: rows.length === 0 ? "no model has an slo: entry" : null, rows };
}

/** One line per model: its strategy, and its canary when one runs. */
function routingLines(body: RoutingBody): string[] {
  return body.models.map((m) => {
    const c = m.canary;
    const canary = c
      ? `  canary ${c.strategy} on ${formatPercent(c.share)} of sessions until ${
        c.ends_at.slice(11, 19)
      } (burn ${c.canary_burn?.toFixed(2) ?? "-"} vs ${c.incumbent_burn?.toFixed(2) ?? "-"})`
      : "";
    return `routing ${m.model}: ${m.strategy}${canary}`;
  });
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
    return {
      id: "jobs",
      title: "Jobs",
      note: noteOf("jobs", result),
      summary: [],
      columns,
      rows: [],
    };
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
  return {
    id: "jobs",
    title: "Jobs",
    note: rows.length === 0 ? "no jobs" : null,
    summary: [],
    columns,
    rows,
  };
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
      sessionsPanel(snapshot, nowMs),
      bottlenecksPanel(snapshot),
      sloPanel(snapshot),
      jobsPanel(snapshot, nowMs),
    ],
    charts: chartsOf(snapshot, history),
  };
}

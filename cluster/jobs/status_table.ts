/** `jobs status` as a table: one line per replica, columns as wide as their widest cell. */
import type { JobStatusRow } from "../../actors/job/types.ts";

/** The table's header, in column order. */
export const STATUS_COLUMNS = [
  "MODEL",
  "REPLICA",
  "JOB",
  "PARTITION",
  "NODE",
  "STATE",
  "SINCE",
  "ENDPOINT",
  "HEALTH",
] as const;

/** Options of {@linkcode renderStatusTable}. */
export interface StatusTableOptions {
  /** The clock the SINCE column counts from, ms since the epoch. @default Date.now() */
  nowMs?: number;
  /** The widest a STATE cell gets; a longer pending reason is cut with an ellipsis. @default 48 */
  maxStateWidth?: number;
}

/** The message printed instead of a table when no replica exists. */
export const EMPTY_FLEET =
  "No jobs: `deno task jobs start --config FILE` submits the replicas the config asks for";

/**
 * How long ago `sinceMs` was, in the largest unit or two that say it: `45s`, `3m`, `2h5m`, `1d4h`.
 * A time in the future (a clock step) reads `0s`.
 */
export function formatSince(sinceMs: number, nowMs: number): string {
  const s = Math.max(0, Math.floor((nowMs - sinceMs) / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
}

/** Cuts `text` to `width` characters, the last one an ellipsis when something was cut. */
export function truncate(text: string, width: number): string {
  if (text.length <= width) return text;
  return width <= 1 ? text.slice(0, width) : `${text.slice(0, width - 1)}…`;
}

/**
 * The STATE cell: the job's phase, with SLURM's own state when it says more (`backoff`
 * after `TIMEOUT`), and for a pending job its reason and the group it falls in
 * (`pending (quota: QOSMaxGRESPerUser)`).
 */
export function stateCell(row: JobStatusRow): string {
  const slurm = row.slurmState;
  const showSlurm = slurm !== undefined && slurm.toLowerCase() !== row.phase &&
    !(row.phase === "healthy" && slurm === "RUNNING");
  const base = showSlurm ? `${row.phase} ${slurm}` : row.phase;
  if (row.pendingReason === undefined) return base;
  const group = row.pendingGroup === undefined ? "" : `${row.pendingGroup}: `;
  return `${base} (${group}${row.pendingReason})`;
}

/** The cells of one row, in {@linkcode STATUS_COLUMNS} order; `-` for what is not known. */
export function statusCells(row: JobStatusRow, nowMs: number, maxStateWidth = 48): string[] {
  return [
    row.model,
    String(row.replica),
    row.jobId ?? "-",
    row.partition ?? "-",
    row.node ?? "-",
    truncate(stateCell(row), maxStateWidth),
    formatSince(row.sinceMs, nowMs),
    row.endpoint ?? "-",
    row.health,
  ];
}

/** Lays out cells in columns two spaces apart, each as wide as its widest cell; no trailing blanks. */
export function layoutTable(rows: readonly (readonly string[])[]): string {
  const columns = Math.max(0, ...rows.map((r) => r.length));
  const widths = Array.from(
    { length: columns },
    (_, i) => Math.max(0, ...rows.map((r) => (r[i] ?? "").length)),
  );
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd())
    .join("\n");
}

/**
 * The whole `jobs status` text: the table sorted by model and replica, then one line per
 * replica whose last attempt failed (its error in full, which the table has no room for).
 */
export function renderStatusTable(
  rows: readonly JobStatusRow[],
  options: StatusTableOptions = {},
): string {
  if (rows.length === 0) return EMPTY_FLEET;
  const nowMs = options.nowMs ?? Date.now();
  const sorted = [...rows].sort((a, b) =>
    a.model === b.model ? a.replica - b.replica : a.model < b.model ? -1 : 1
  );
  const table = layoutTable([
    [...STATUS_COLUMNS],
    ...sorted.map((row) => statusCells(row, nowMs, options.maxStateWidth)),
  ]);
  const errors = sorted.filter((r) => r.lastError !== undefined).map((r) =>
    `${r.model}/${r.replica}: last error (attempt ${r.attempts}): ${r.lastError}`
  );
  return errors.length === 0 ? table : `${table}\n\n${errors.join("\n")}`;
}

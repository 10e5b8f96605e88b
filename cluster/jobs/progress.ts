/** What `jobs start` and `jobs stop` wait for, and the line they print as each replica moves. */
import type { JobPhase, JobsController, JobStatusRow } from "../../actors/job/types.ts";
import { stateCell } from "./status_table.ts";

/** Where a replica stands against what a command waits for. */
export type Settled = "done" | "failed" | "waiting";

const QUEUED: ReadonlySet<JobPhase> = new Set(["pending", "running", "healthy"]);

/**
 * For `jobs start`: done once the job is queued or running (with `healthy`, once it answers
 * `/health`); failed when it was given up on.
 */
export function startSettled(row: JobStatusRow, healthy: boolean): Settled {
  if (row.phase === "failed") return "failed";
  if (healthy) return row.phase === "healthy" ? "done" : "waiting";
  return QUEUED.has(row.phase) ? "done" : "waiting";
}

/** For `jobs stop`: done once the job is cancelled (or ended for good). */
export function stopSettled(row: JobStatusRow): Settled {
  if (row.phase === "cancelled") return "done";
  // A job that failed is not running either; stop has nothing left to end.
  if (row.phase === "failed") return "done";
  return "waiting";
}

/** One progress line: `m/0: pending (resources: Resources), job 42 on gpu_a`. */
export function describeRow(row: JobStatusRow): string {
  const where = [
    row.jobId === undefined ? undefined : `job ${row.jobId}`,
    row.partition === undefined ? undefined : `on ${row.partition}`,
    row.node === undefined ? undefined : `node ${row.node}`,
    row.endpoint === undefined ? undefined : `at ${row.endpoint}`,
  ].filter((part) => part !== undefined).join(" ");
  const error = row.phase === "failed" || row.phase === "backoff"
    ? row.lastError === undefined ? "" : `: ${row.lastError}`
    : "";
  return `${row.model}/${row.replica}: ${stateCell(row)}${
    where === "" ? "" : `, ${where}`
  }${error}`;
}

/**
 * The lines for the rows that changed since `seen` (keyed by model/replica), and `seen` updated:
 * each replica's line is printed when it first shows and again whenever it reads differently.
 */
export function changedLines(seen: Map<string, string>, rows: readonly JobStatusRow[]): string[] {
  const lines: string[] = [];
  for (const row of rows) {
    const key = `${row.model}/${row.replica}`;
    const line = describeRow(row);
    if (seen.get(key) !== line) lines.push(line);
    seen.set(key, line);
  }
  return lines;
}

/** Options of {@linkcode waitForRows}. */
export interface WaitForRowsOptions {
  /** Where each replica stands; the wait ends when none is `waiting`. */
  settled: (row: JobStatusRow) => Settled;
  /** How long to wait, in ms. */
  timeoutMs: number;
  /** Time between reads of the rows, in ms. @default 1000 */
  intervalMs?: number;
  /** Gets each progress line. */
  print: (line: string) => void;
  /** Ends the wait early (Ctrl-C). */
  signal?: AbortSignal;
}

/** How a wait ended, with the rows last read. */
export interface WaitOutcome {
  outcome: "done" | "failed" | "timeout" | "aborted";
  rows: JobStatusRow[];
}

/**
 * Reads the rows until every one is settled (or one failed, or the time is up), printing what
 * changed. `first` is the rows the command itself got back, printed first.
 */
export async function waitForRows(
  controller: JobsController,
  first: JobStatusRow[],
  options: WaitForRowsOptions,
): Promise<WaitOutcome> {
  const seen = new Map<string, string>();
  const deadline = Date.now() + options.timeoutMs;
  let rows = first;
  for (;;) {
    for (const line of changedLines(seen, rows)) options.print(line);
    const states = rows.map(options.settled);
    if (states.includes("failed")) return { outcome: "failed", rows };
    if (!states.includes("waiting")) return { outcome: "done", rows };
    if (options.signal?.aborted) return { outcome: "aborted", rows };
    if (Date.now() >= deadline) return { outcome: "timeout", rows };
    await pause(Math.min(options.intervalMs ?? 1000, deadline - Date.now()), options.signal);
    if (options.signal?.aborted) return { outcome: "aborted", rows };
    rows = await controller.status();
  }
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, Math.max(0, ms));
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Short, time-aligned histories of a few figures per backend, for the dashboards' sparklines and charts. */
import type { Snapshot } from "./feed.ts";

/** Samples kept per series. @default 60 */
export const HISTORY_SAMPLES = 60;

/** Series aligned on `timesMs`: `series[key][i]` was sampled at `timesMs[i]` (null: no value then). */
export interface History {
  timesMs: number[];
  series: Record<string, (number | null)[]>;
}

/** An empty history. */
export function emptyHistory(): History {
  return { timesMs: [], series: {} };
}

/** The key of a backend's load series (requests in flight through the gateway, plus the replica's waiting). */
export function loadKey(backendId: string): string {
  return `load:${backendId}`;
}

/** The key of a backend's TTFT series (the gateway's EWMA of time to first token, in ms). */
export function ttftKey(backendId: string): string {
  return `ttft:${backendId}`;
}

/** The figures of one snapshot that the histories keep, by series key. */
export function samplesOf(snapshot: Snapshot): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  if (snapshot.backends.state !== "ok") return out;
  for (const b of snapshot.backends.data.backends) {
    out[loadKey(b.id)] = b.in_flight + (b.load?.waiting ?? 0);
    out[ttftKey(b.id)] = b.ewma_ttft_ms;
  }
  return out;
}

/**
 * `history` with one more sample at `atMs`, keeping the newest `cap`: a series that is new gets
 * nulls before, one missing from `samples` a null now; a series with nothing but nulls is dropped.
 */
export function recordSamples(
  history: History,
  atMs: number,
  samples: Record<string, number | null>,
  cap = HISTORY_SAMPLES,
): History {
  const length = history.timesMs.length;
  const drop = Math.max(0, length + 1 - cap);
  const timesMs = [...history.timesMs, atMs].slice(drop);
  const keys = new Set([...Object.keys(history.series), ...Object.keys(samples)]);
  const series: History["series"] = {};
  for (const key of keys) {
    const before = history.series[key] ?? new Array<null>(length).fill(null);
    const next = [...before, samples[key] ?? null].slice(drop);
    if (next.some((v) => v !== null)) series[key] = next;
  }
  return { timesMs, series };
}

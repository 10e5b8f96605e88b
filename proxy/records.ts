/** The in-memory, bounded store of per-request records (session headers plus the gateway's timing). */
import { quantileSorted } from "d3-array";
import type { HeadersConfig } from "../config/mod.ts";

/** One request as the gateway saw it. */
export interface RequestRecord {
  /** The X-Request-ID. */
  requestId: string;
  /** The `model` field. */
  model: string;
  /** The OpenAI route, e.g. `/v1/chat/completions`. */
  endpoint: string;
  /** Whether the client asked for a stream. */
  stream: boolean;
  /** The status the client got. */
  status: number;
  /** The backend that answered (the last one tried), if any. */
  backendId: string | undefined;
  /** Backends tried, the answering one included. */
  attempts: number;
  /** Values of the configured session headers. */
  sessionId: string | undefined;
  taskId: string | undefined;
  clientId: string | undefined;
  /** The agent's own time before and after the call, from the timing headers, in ms. */
  clientPreMs: number | undefined;
  clientPostMs: number | undefined;
  /** When the request arrived, in ms since the epoch. */
  startedAtMs: number;
  /** Time spent in the gateway itself (before the upstream call and relaying after it), in ms. */
  gatewayMs: number;
  /** Time from sending upstream to the first body byte of a streamed answer, in ms (undefined when not streamed). */
  upstreamTtftMs: number | undefined;
  /** Time from sending upstream to the answer's last byte, in ms (undefined when no backend answered). */
  upstreamMs: number | undefined;
  /** Whole request time in the gateway, in ms. */
  totalMs: number;
  /** Prompt and completion tokens: from the replica's usage when it sent one, else counted from the stream. */
  promptTokens: number | undefined;
  completionTokens: number | undefined;
  /** Whether the token counts came from the replica's `usage` or were counted from stream events. */
  usageSource: "reported" | "counted" | "none";
  /** Why it failed, if it did. */
  error: string | undefined;
}

/** What the gateway knows of a request when it arrives. */
export interface RecordStart {
  /** The X-Request-ID. */
  requestId: string;
  /** The OpenAI route. */
  endpoint: string;
  /** When it arrived, in ms since the epoch. */
  startedAtMs: number;
  /** The configured session header names. */
  names: HeadersConfig;
}

/** A record for `request` with its session headers read and nothing measured yet. */
export function startRecord(request: Request, start: RecordStart): RequestRecord {
  const { names } = start;
  const headers = request.headers;
  return {
    requestId: start.requestId,
    model: "",
    endpoint: start.endpoint,
    stream: false,
    status: 0,
    backendId: undefined,
    attempts: 0,
    sessionId: headers.get(names.session) ?? undefined,
    taskId: headers.get(names.task) ?? undefined,
    clientId: headers.get(names.client) ?? undefined,
    clientPreMs: numberHeader(headers.get(names.timing_pre)),
    clientPostMs: numberHeader(headers.get(names.timing_post)),
    startedAtMs: start.startedAtMs,
    gatewayMs: 0,
    upstreamTtftMs: undefined,
    upstreamMs: undefined,
    totalMs: 0,
    promptTokens: undefined,
    completionTokens: undefined,
    usageSource: "none",
    error: undefined,
  };
}

function numberHeader(value: string | null): number | undefined {
  if (value === null) return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/** Options of {@linkcode RecordStore}. */
export interface RecordStoreOptions {
  /** Records kept; the oldest are dropped first. @default 10000 */
  capacity?: number;
}

/** Summary figures over the kept records, for `GET /api/stats`. */
export interface RecordStats {
  /** Requests seen since start (not only those kept). */
  total: number;
  /** Records kept now. */
  kept: number;
  /** Requests by status class (`2xx`, `4xx`, `5xx`). */
  byStatus: Record<string, number>;
  /** Requests by backend id. */
  byBackend: Record<string, number>;
  /** Sessions seen in the kept records. */
  sessions: number;
  /** Percentiles of gateway time, upstream TTFT and total, in ms. */
  gatewayMs: Percentiles;
  upstreamTtftMs: Percentiles;
  totalMs: Percentiles;
  /** Tokens in the kept records. */
  promptTokens: number;
  completionTokens: number;
}

/** p50, p95 and p99 of a sample; undefined when it is empty. */
export interface Percentiles {
  p50: number | undefined;
  p95: number | undefined;
  p99: number | undefined;
}

/** A listener told of every record as it is added. */
export type RecordListener = (record: RequestRecord) => void;

/** A ring buffer of recent request records with listeners for the modules that build on them. */
export class RecordStore {
  #capacity: number;
  #ring: RequestRecord[] = [];
  #next = 0;
  #total = 0;
  #listeners = new Set<RecordListener>();

  /** @param options capacity */
  constructor(options: RecordStoreOptions = {}) {
    this.#capacity = Math.max(1, options.capacity ?? 10_000);
  }

  /** Stores a record (dropping the oldest when full) and tells the listeners. */
  add(record: RequestRecord): void {
    this.#total++;
    if (this.#ring.length < this.#capacity) this.#ring.push(record);
    else this.#ring[this.#next] = record;
    this.#next = (this.#next + 1) % this.#capacity;
    for (const listener of this.#listeners) {
      try {
        listener(record);
      } catch (error) {
        console.error("A request record listener failed:", error);
      }
    }
  }

  /** Subscribes to new records; returns the unsubscribe function. */
  subscribe(listener: RecordListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The kept records, newest first, optionally only one session's, at most `limit`. */
  recent(options: { limit?: number; sessionId?: string } = {}): RequestRecord[] {
    const ordered: RequestRecord[] = [];
    const n = this.#ring.length;
    for (let i = 1; i <= n; i++) {
      const record = this.#ring[(this.#next - i + n) % n];
      if (!record) continue;
      if (options.sessionId !== undefined && record.sessionId !== options.sessionId) continue;
      ordered.push(record);
      if (options.limit !== undefined && ordered.length >= options.limit) break;
    }
    return ordered;
  }

  /** Summary figures over the kept records. */
  stats(): RecordStats {
    const byStatus: Record<string, number> = {};
    const byBackend: Record<string, number> = {};
    const sessions = new Set<string>();
    const gateway: number[] = [];
    const ttft: number[] = [];
    const total: number[] = [];
    let promptTokens = 0;
    let completionTokens = 0;
    for (const r of this.#ring) {
      const cls = `${Math.floor(r.status / 100)}xx`;
      byStatus[cls] = (byStatus[cls] ?? 0) + 1;
      if (r.backendId !== undefined) byBackend[r.backendId] = (byBackend[r.backendId] ?? 0) + 1;
      if (r.sessionId !== undefined) sessions.add(r.sessionId);
      gateway.push(r.gatewayMs);
      total.push(r.totalMs);
      if (r.upstreamTtftMs !== undefined) ttft.push(r.upstreamTtftMs);
      promptTokens += r.promptTokens ?? 0;
      completionTokens += r.completionTokens ?? 0;
    }
    return {
      total: this.#total,
      kept: this.#ring.length,
      byStatus,
      byBackend,
      sessions: sessions.size,
      gatewayMs: percentiles(gateway),
      upstreamTtftMs: percentiles(ttft),
      totalMs: percentiles(total),
      promptTokens,
      completionTokens,
    };
  }
}

/**
 * p50, p95, p99 of `values`, by the percentile every figure of turnpike uses: d3-array's
 * `quantileSorted`, interpolating linearly between the two nearest ranks (as `sim/stats.ts`).
 */
export function percentiles(values: number[]): Percentiles {
  const sorted = values.toSorted((a, b) => a - b);
  const at = (q: number) => quantileSorted(sorted, q);
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}

/** The in-memory, bounded store of per-request records (session headers plus the gateway's timing). */
import { errorField, logger } from "../actors/runtime/log.ts";
import { quantileSorted } from "d3-array";
import type { HeadersConfig } from "../config/mod.ts";
import type { ScrapedLoad } from "../actors/backend/mod.ts";
import type { PickNote } from "../actors/router/mod.ts";
import { matchesRecord, type RecordFilter } from "./record_filter.ts";

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
  /** The OpenAI error `code` the client got, when the gateway refused it (bounded: the gateway's own codes). */
  errorCode?: string | undefined;
  /** Time it waited in the model's admission queue, in ms (absent when it never waited). */
  queueMs?: number | undefined;
  /** Its priority class, when admission control placed it. */
  priority?: string | undefined;
  /**
   * Time from sending upstream to the answer's head, in ms: for a stream, the way to the replica
   * and its HTTP front (vLLM sends a stream's head before it queues the request).
   */
  upstreamHeadMs?: number | undefined;
  /**
   * The answering replica as its last scrape before the pick showed it: requests waiting and
   * running, KV cache usage (0 to 1), and since the scrape before: the mean time requests waited
   * in its queue (ms), preemptions and the prefix-cache hit rate (0 to 1).
   */
  replicaWaiting?: number | undefined;
  replicaRunning?: number | undefined;
  replicaKvUsage?: number | undefined;
  replicaQueueMs?: number | undefined;
  replicaPreemptions?: number | undefined;
  replicaPrefixHitRate?: number | undefined;
  /** The strategy that picked the backend and why, as a bounded code (`prefix_hit`, `affinity`, ...). */
  routeStrategy?: string | undefined;
  routeReason?: string | undefined;
  /** The router's estimate of the share of the prompt's prefix blocks the chosen replica holds (prefix_aware). */
  routerPrefixShare?: number | undefined;
  /** Which side of a routing canary picked its backend, while one ran for its model. */
  routeArm?: "canary" | "incumbent" | undefined;
  /**
   * Prompt tokens the replica found in its prefix cache (`usage.prompt_tokens_details.cached_tokens`),
   * and the router's prediction of them (its estimated cached blocks in tokens), when known.
   */
  cachedTokens?: number | undefined;
  predictedCachedTokens?: number | undefined;
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

/**
 * Copies the answering replica's scraped state into `record`: waiting, running and KV usage as the
 * router saw them at the pick (`atPick`, the routing table's view); the queue time, preemptions and
 * prefix hit rate since the scrape before from `latest` when it was scraped after the request
 * arrived (its interval then covers the request's own wait), else from the pick's. Nothing when the
 * replica was never scraped.
 */
export function noteReplicaLoad(
  record: RequestRecord,
  atPick: ScrapedLoad | undefined,
  latest?: ScrapedLoad,
): void {
  if (atPick !== undefined) {
    record.replicaWaiting = atPick.waiting;
    record.replicaRunning = atPick.running;
    record.replicaKvUsage = atPick.kvUsage;
  }
  const since = latest !== undefined && latest.scrapedAtMs > record.startedAtMs ? latest : atPick;
  if (since === undefined) return;
  if (since.recentQueueMs !== undefined) record.replicaQueueMs = since.recentQueueMs;
  if (since.recentPreemptions !== undefined) record.replicaPreemptions = since.recentPreemptions;
  if (since.recentPrefixHitRate !== undefined) {
    record.replicaPrefixHitRate = since.recentPrefixHitRate;
  }
}

/** Copies a pick's strategy, reason, prefix estimate and canary side into `record`. */
export function notePick(record: RequestRecord, note: PickNote): void {
  record.routeStrategy = note.strategy;
  record.routeReason = note.reason;
  record.routerPrefixShare = note.prefixShare;
  record.routeArm = note.arm;
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

/** One page of records, newest first, and where the next (older) page starts. */
export interface RecordPage {
  records: RequestRecord[];
  /** Pass as `before` for the next page; undefined when no older record matches. */
  next: number | undefined;
}

/** Options of {@linkcode RecordStore.page}. */
export interface RecordPageOptions {
  /** Only records added before the one with this index (a previous page's `next`). */
  before?: number;
  /** Records in the page at most. */
  limit: number;
  /** Which records to return. */
  filter?: RecordFilter;
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
        logger.error("a request record listener failed", { error: errorField(error) });
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

  /**
   * A page of the kept records matching `filter`, newest first. Records are indexed in the order
   * they were added, so a page's `next` stays valid while newer records arrive.
   */
  page(options: RecordPageOptions): RecordPage {
    const records: RequestRecord[] = [];
    const oldest = this.#total - this.#ring.length;
    const from = Math.min(options.before ?? this.#total, this.#total) - 1;
    for (let index = from; index >= oldest; index--) {
      const record = this.#ring[index % this.#capacity] as RequestRecord;
      if (options.filter && !matchesRecord(record, options.filter)) continue;
      if (records.length === options.limit) return { records, next: index + 1 };
      records.push(record);
    }
    return { records, next: undefined };
  }

  /** Summary figures over the kept records. */
  stats(): RecordStats {
    return recordStats(this.#ring, this.#total);
  }
}

/** Summary figures over `records`, of `total` requests seen in all. */
export function recordStats(records: Iterable<RequestRecord>, total: number): RecordStats {
  const byStatus: Record<string, number> = {};
  const byBackend: Record<string, number> = {};
  const sessions = new Set<string>();
  const gateway: number[] = [];
  const ttft: number[] = [];
  const whole: number[] = [];
  let promptTokens = 0;
  let completionTokens = 0;
  for (const r of records) {
    const cls = `${Math.floor(r.status / 100)}xx`;
    byStatus[cls] = (byStatus[cls] ?? 0) + 1;
    if (r.backendId !== undefined) byBackend[r.backendId] = (byBackend[r.backendId] ?? 0) + 1;
    if (r.sessionId !== undefined) sessions.add(r.sessionId);
    gateway.push(r.gatewayMs);
    whole.push(r.totalMs);
    if (r.upstreamTtftMs !== undefined) ttft.push(r.upstreamTtftMs);
    promptTokens += r.promptTokens ?? 0;
    completionTokens += r.completionTokens ?? 0;
  }
  return {
    total,
    kept: whole.length,
    byStatus,
    byBackend,
    sessions: sessions.size,
    gatewayMs: percentiles(gateway),
    upstreamTtftMs: percentiles(ttft),
    totalMs: percentiles(whole),
    promptTokens,
    completionTokens,
  };
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

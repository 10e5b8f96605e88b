/** The per-request metrics on `/metrics`, observed once per finished request from its record (no KV, nothing awaited). */
import type { Registry } from "prom-client";
import { CellCounter, CellHistogram } from "./cells.ts";
import type { RequestRecord } from "../../records.ts";
import { chunkGapsOf } from "../../chunk_gaps.ts";
import { GapHistogram } from "./gap_histogram.ts";
import {
  GATEWAY_OVERHEAD_BUCKETS_S,
  INTER_TOKEN_BUCKETS_S,
  REQUEST_LATENCY_BUCKETS_S,
  TTFT_BUCKETS_S,
} from "./buckets.ts";

/** Options of {@linkcode RequestMetrics}. */
export interface RequestMetricsOptions {
  /**
   * Whether `model` is served here: any other name a client sent is counted as `unknown`, so a
   * label never takes a value the client chose.
   */
  knownModel(model: string): boolean;
  /** The routing strategy's name (`proxy.strategy`), the `strategy` label of routing decisions. */
  strategy: string;
}

/** The label a model gets: its name when served here, else `unknown`. */
const UNKNOWN = "unknown";
/** The label of a request no backend was tried for. */
const NO_BACKEND = "none";

/** The status class of an HTTP status: `2xx`, `4xx`, `5xx`. */
export function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}

/**
 * Counters and histograms fed by {@linkcode observe}: requests, gateway queue time, upstream TTFT,
 * time per output token, end-to-end latency, tokens, retries, refusals, routing decisions, picks by
 * reason, and the prefix-cached prompt tokens the replicas reported beside the router's estimate.
 * Labels are model, backend, route, status class, priority, strategy, pick reason and error code: all bounded
 * (the fleet's models and backends, the gateway's routes and codes), never a session, key or prompt.
 */
export class RequestMetrics {
  readonly #knownModel: (model: string) => boolean;
  readonly #strategy: string;
  readonly #requests: CellCounter<"model" | "backend" | "route" | "status">;
  readonly #queue: CellHistogram<"model" | "priority">;
  readonly #ttft: CellHistogram<"model" | "backend">;
  readonly #tpot: CellHistogram<"model" | "backend">;
  readonly #itl: GapHistogram<"model" | "backend">;
  readonly #e2e: CellHistogram<"model" | "route">;
  readonly #overhead: CellHistogram<"route">;
  readonly #promptTokens: CellCounter<"model">;
  readonly #generationTokens: CellCounter<"model">;
  readonly #retries: CellCounter<"model">;
  readonly #refusals: CellCounter<"model" | "route" | "status" | "code">;
  readonly #decisions: CellCounter<"model" | "strategy" | "outcome">;
  readonly #picks: CellCounter<"model" | "strategy" | "reason">;
  readonly #cached: CellCounter<"model" | "backend">;
  readonly #predictedCached: CellCounter<"model" | "backend">;

  /** @param registry where the metrics are registered, @param options the model check and strategy name */
  constructor(registry: Registry, options: RequestMetricsOptions) {
    this.#knownModel = options.knownModel;
    this.#strategy = options.strategy;
    const registers = [registry];
    this.#requests = new CellCounter({
      name: "turnpike_requests_total",
      help:
        "Requests finished by the gateway, by model, backend (last tried), route and status class",
      labelNames: ["model", "backend", "route", "status"],
      registers,
    });
    this.#queue = new CellHistogram({
      name: "turnpike_gateway_queue_time_seconds",
      help:
        "Time requests under admission control waited in the model's queue (0 when a slot was free)",
      labelNames: ["model", "priority"],
      buckets: [0, ...REQUEST_LATENCY_BUCKETS_S],
      registers,
    });
    this.#ttft = new CellHistogram({
      name: "turnpike_upstream_time_to_first_token_seconds",
      help: "Time from sending a streamed request upstream to its first body byte",
      labelNames: ["model", "backend"],
      buckets: [...TTFT_BUCKETS_S],
      registers,
    });
    this.#tpot = new CellHistogram({
      name: "turnpike_upstream_time_per_output_token_seconds",
      help: "Each streamed request's mean time per output token after the first",
      labelNames: ["model", "backend"],
      buckets: [...INTER_TOKEN_BUCKETS_S],
      registers,
    });
    this.#itl = new GapHistogram({
      name: "turnpike_upstream_inter_token_latency_seconds",
      help:
        "Gaps between a stream's relayed chunks after the first (about one token each; a chunk that carries several counts once)",
      labelNames: ["model", "backend"],
      registers,
    });
    this.#e2e = new CellHistogram({
      name: "turnpike_e2e_request_latency_seconds",
      help: "Whole request time in the gateway, arrival to last byte",
      labelNames: ["model", "route"],
      buckets: [...REQUEST_LATENCY_BUCKETS_S],
      registers,
    });
    this.#overhead = new CellHistogram({
      name: "turnpike_gateway_overhead_seconds",
      help: "Time spent in the gateway itself (before the upstream call and relaying after it)",
      labelNames: ["route"],
      buckets: [...GATEWAY_OVERHEAD_BUCKETS_S],
      registers,
    });
    this.#promptTokens = new CellCounter({
      name: "turnpike_prompt_tokens_total",
      help:
        "Prompt tokens of finished requests (the replica's usage, else counted from the stream)",
      labelNames: ["model"],
      registers,
    });
    this.#generationTokens = new CellCounter({
      name: "turnpike_generation_tokens_total",
      help:
        "Completion tokens of finished requests (the replica's usage, else counted from the stream)",
      labelNames: ["model"],
      registers,
    });
    this.#retries = new CellCounter({
      name: "turnpike_retries_total",
      help: "Attempts on another backend after a failure before the first byte",
      labelNames: ["model"],
      registers,
    });
    this.#refusals = new CellCounter({
      name: "turnpike_refusals_total",
      help:
        "Requests the gateway answered with its own error, by code (rate_limit_exceeded, queue_full, overloaded, ...)",
      labelNames: ["model", "route", "status", "code"],
      registers,
    });
    this.#decisions = new CellCounter({
      name: "turnpike_routing_decisions_total",
      help:
        "Routing outcomes by strategy: routed (first backend answered), retried (answered after a retry), no_backend, failed",
      labelNames: ["model", "strategy", "outcome"],
      registers,
    });
    this.#picks = new CellCounter({
      name: "turnpike_routing_picks_total",
      help:
        "Backends picked, by strategy and reason: prefix_hit, affinity, load_shed, balanced, only_candidate, fallback (a retry), queued (admission freed a slot)",
      labelNames: ["model", "strategy", "reason"],
      registers,
    });
    this.#cached = new CellCounter({
      name: "turnpike_upstream_cached_prompt_tokens_total",
      help:
        "Prompt tokens the replicas reported found in their prefix cache (usage.prompt_tokens_details.cached_tokens)",
      labelNames: ["model", "backend"],
      registers,
    });
    this.#predictedCached = new CellCounter({
      name: "turnpike_router_predicted_cached_prompt_tokens_total",
      help:
        "The router's estimate of those cached prompt tokens, over the same requests (compare with turnpike_upstream_cached_prompt_tokens_total)",
      labelNames: ["model", "backend"],
      registers,
    });
  }

  /** Observes one finished request. */
  observe(record: RequestRecord): void {
    const model = record.model !== "" && this.#knownModel(record.model) ? record.model : UNKNOWN;
    const backend = record.backendId ?? NO_BACKEND;
    const route = record.endpoint;
    const status = statusClass(record.status);
    const ofModel = [model];
    this.#requests.incAt([model, backend, route, status]);
    this.#e2e.observeAt([model, route], record.totalMs / 1000);
    this.#overhead.observeAt([route], record.gatewayMs / 1000);
    if (record.priority !== undefined) {
      this.#queue.observeAt([model, record.priority], (record.queueMs ?? 0) / 1000);
    }
    if (record.upstreamTtftMs !== undefined && record.backendId !== undefined) {
      this.#ttft.observeAt([model, backend], record.upstreamTtftMs / 1000);
      const completion = record.completionTokens ?? 0;
      const gaps = chunkGapsOf(record);
      if (gaps !== undefined) this.#itl.add({ model, backend }, gaps);
      if (record.upstreamMs !== undefined && completion > 1) {
        const decodeMs = record.upstreamMs - record.upstreamTtftMs;
        this.#tpot.observeAt([model, backend], Math.max(0, decodeMs) / (completion - 1) / 1000);
      }
    }
    if (record.promptTokens) this.#promptTokens.incAt(ofModel, record.promptTokens);
    if (record.completionTokens) this.#generationTokens.incAt(ofModel, record.completionTokens);
    if (record.attempts > 1) this.#retries.incAt(ofModel, record.attempts - 1);
    if (record.errorCode !== undefined) {
      this.#refusals.incAt([model, route, status, record.errorCode]);
    }
    if (model !== UNKNOWN) {
      const outcome = record.attempts === 0
        ? "no_backend"
        : record.status >= 500
        ? "failed"
        : record.attempts > 1
        ? "retried"
        : "routed";
      const strategy = record.routeStrategy || this.#strategy;
      if (record.attempts > 0 || record.errorCode === "no_healthy_backend") {
        this.#decisions.incAt([model, strategy, outcome]);
      }
      if (record.routeReason !== undefined) {
        this.#picks.incAt([model, strategy, record.routeReason]);
      }
      if (record.cachedTokens !== undefined && record.backendId !== undefined) {
        this.#cached.incAt([model, backend], record.cachedTokens);
        this.#predictedCached.incAt([model, backend], record.predictedCachedTokens ?? 0);
      }
    }
  }
}

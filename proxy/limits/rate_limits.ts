/**
 * The rate limits of the gateway (`limits:`): the hot path's check of each routed request, the
 * `x-ratelimit-*` headers and 429s it answers with, and the sync of the counters through KV.
 */
import type { LimitsConfig, RateLimitConfig } from "../../config/mod.ts";
import type { RequestRecord } from "../records.ts";
import { type PrincipalLimits, principalOf } from "../auth/principal.ts";
import type { Exchange } from "../openai/exchange.ts";
import type { RoutedRequest } from "../openai/forward.ts";
import { estimateTokens } from "./estimate.ts";
import { CounterSync } from "./kv_sync.ts";
import { limited, RateLimiter } from "./limiter.ts";

/** The client id of requests without a principal or a client header. */
export const ANONYMOUS_CLIENT = "anonymous";

/** Options of {@linkcode RateLimits}. */
export interface RateLimitsOptions {
  /** The store the counters are shared through; counted in this process alone without it. */
  kv?: Deno.Kv;
  /** This process's id on the store. @default a random UUID */
  nodeId?: string;
  /** Clock in ms since the epoch; every gateway process must agree on it. @default Date.now */
  now?: () => number;
}

/**
 * Requests, tokens and requests in flight per client and per model. The client is the request's
 * principal (whose own limits override `limits.per_client` field by field) or, when auth is
 * off, the client header's value, else {@linkcode ANONYMOUS_CLIENT}.
 */
export class RateLimits {
  readonly #limiter: RateLimiter;
  readonly #sync: CounterSync | undefined;
  readonly #defaults: PrincipalLimits;
  readonly #models: Map<string, PrincipalLimits>;
  readonly #defaultCompletionTokens: number;

  /**
   * @param config the `limits:` settings
   * @param options the KV store shared with the other processes
   */
  constructor(config: LimitsConfig, options: RateLimitsOptions = {}) {
    const now = options.now ?? Date.now;
    this.#limiter = new RateLimiter({ now });
    this.#defaults = limitsOf(config.per_client);
    this.#models = new Map();
    for (const [model, limits] of Object.entries(config.models)) {
      const parsed = limitsOf(limits);
      if (limited(parsed)) this.#models.set(model, parsed);
    }
    this.#defaultCompletionTokens = config.default_completion_tokens;
    this.#sync = options.kv && new CounterSync(options.kv, this.#limiter, {
      nodeId: options.nodeId ?? crypto.randomUUID(),
      intervalMs: config.sync_interval * 1000,
      now,
    });
  }

  /** Reads the counters the other processes wrote, then keeps in step with them. */
  async start(): Promise<void> {
    await this.#sync?.start();
  }

  /** Stops syncing, after writing this process's last counts. */
  async close(): Promise<void> {
    await this.#sync?.close();
  }

  /** One sync with KV now, as the timer runs it (tests use it to see the others' counts at once). */
  async sync(): Promise<void> {
    await this.#sync?.sync();
  }

  /**
   * The hot path's check of `routed`, the body `exchange` sends for `request`: the 429 when a
   * limit refuses it, else undefined, with the request counted, its `x-ratelimit-*` headers set
   * on `exchange` and its slot given back (and tokens settled) when the exchange finishes.
   * Synchronous: nothing waits on KV.
   */
  limit(request: Request, exchange: Exchange, routed: RoutedRequest): Response | undefined {
    const principal = principalOf(request);
    const own = principal?.limits;
    const clientLimits = own !== undefined && limited(own)
      ? { ...this.#defaults, ...definedOf(own) }
      : this.#defaults;
    const modelLimits = this.#models.get(routed.model);
    if (modelLimits === undefined && !limited(clientLimits)) return undefined;
    const record = exchange.record;
    const countsTokens = clientLimits.tokensPerMinute !== undefined ||
      modelLimits?.tokensPerMinute !== undefined;
    const admission = this.#limiter.admit({
      clientId: principal?.clientId ?? record.clientId ?? ANONYMOUS_CLIENT,
      clientLimits,
      model: routed.model,
      modelLimits,
      tokens: countsTokens
        ? estimateTokens(routed.bytes.byteLength, routed.json, {
          defaultCompletionTokens: this.#defaultCompletionTokens,
          promptOnly: record.endpoint === "/v1/embeddings",
        })
        : 0,
    });
    exchange.extraHeaders = admission.headers;
    if (!admission.ok) {
      return exchange.refuse(429, admission.message, {
        type: admission.kind === "concurrency" ? "requests" : admission.kind,
        code: admission.kind === "concurrency"
          ? "concurrency_limit_exceeded"
          : "rate_limit_exceeded",
        retryAfter: String(admission.retryAfterS),
        reason: `rate limit: ${admission.kind}`,
      });
    }
    const ticket = admission.ticket;
    (exchange.onFinish ??= []).push((finished) =>
      ticket.finish(countsTokens ? usedTokens(finished, ticket.reserved) : 0)
    );
    return undefined;
  }
}

/** The tokens a finished request used: its usage, else its charge if it was answered, else none. */
export function usedTokens(record: RequestRecord, reserved: number): number {
  if (record.usageSource !== "none") {
    return (record.promptTokens ?? 0) + (record.completionTokens ?? 0);
  }
  return record.status > 0 && record.status < 400 ? reserved : 0;
}

function limitsOf(config: RateLimitConfig): PrincipalLimits {
  const limits: PrincipalLimits = {};
  if (config.requests_per_minute !== undefined) {
    limits.requestsPerMinute = config.requests_per_minute;
  }
  if (config.tokens_per_minute !== undefined) limits.tokensPerMinute = config.tokens_per_minute;
  if (config.max_concurrent !== undefined) limits.maxConcurrent = config.max_concurrent;
  return limits;
}

/** `limits` without its undefined fields, so that spreading it keeps the defaults it does not set. */
function definedOf(limits: PrincipalLimits): PrincipalLimits {
  const defined: PrincipalLimits = {};
  if (limits.requestsPerMinute !== undefined) defined.requestsPerMinute = limits.requestsPerMinute;
  if (limits.tokensPerMinute !== undefined) defined.tokensPerMinute = limits.tokensPerMinute;
  if (limits.maxConcurrent !== undefined) defined.maxConcurrent = limits.maxConcurrent;
  return defined;
}

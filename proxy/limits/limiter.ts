/**
 * The admission decision of the rate limits, in memory and synchronous (the hot path calls it):
 * requests and tokens per minute and requests in flight, per client and per model.
 */
import type { PrincipalLimits } from "../auth/principal.ts";
import { type MetricStanding, pushRateLimitHeaders, retryAfterSeconds } from "./headers.ts";
import { Scope, type ScopeKind } from "./scope.ts";
import { bucketOf, type SlidingWindow } from "./window.ts";

/** Why a request was refused: OpenAI's error `type` of a 429, and `concurrency` for in-flight caps. */
export type RefusalKind = "requests" | "tokens" | "concurrency";

/** One request as the limiter sees it. */
export interface Demand {
  /** Who sent it. */
  clientId: string;
  /** The limits of its client (the key's or token's own, else the defaults); empty is none. */
  clientLimits: PrincipalLimits;
  /** The model asked for. */
  model: string;
  /** The limits of that model over all its clients, if it has any. */
  modelLimits: PrincipalLimits | undefined;
  /** The tokens it is charged at admission. */
  tokens: number;
}

/** The limiter's answer to a {@linkcode Demand}. */
export type Admission =
  | {
    ok: true;
    /** The `x-ratelimit-*` headers of the answer. */
    headers: [string, string][];
    /** Gives back the request's slot and settles its tokens when it ends. */
    ticket: Ticket;
  }
  | {
    ok: false;
    /** The `x-ratelimit-*` headers of the 429. */
    headers: [string, string][];
    /** The first limit it met. */
    kind: RefusalKind;
    /** The 429's message. */
    message: string;
    /** Seconds until every limit it met lets it through, if nothing else is sent. */
    retryAfterS: number;
  };

/** Options of {@linkcode RateLimiter}. */
export interface RateLimiterOptions {
  /** Clock in ms since the epoch; every gateway process must agree on it. @default Date.now */
  now?: () => number;
}

/** A limit met: what the 429 says, and how long until it lets the request through. */
interface Breach {
  kind: RefusalKind;
  message: string;
  waitMs: number;
}

/** Every scope this process knows, and the decision over them. */
export class RateLimiter {
  /** Scopes of clients, by client id. */
  readonly clients: Map<string, Scope> = new Map();
  /** Scopes of models, by model name. */
  readonly models: Map<string, Scope> = new Map();
  readonly #now: () => number;

  /** @param options its clock */
  constructor(options: RateLimiterOptions = {}) {
    this.#now = options.now ?? Date.now;
  }

  /** The scope of `id`, made when it is new. */
  scope(kind: ScopeKind, id: string): Scope {
    const map = kind === "client" ? this.clients : this.models;
    let scope = map.get(id);
    if (scope === undefined) {
      scope = new Scope(kind, id);
      map.set(id, scope);
    }
    return scope;
  }

  /** Every scope, of clients then of models. */
  *scopes(): IterableIterator<Scope> {
    yield* this.clients.values();
    yield* this.models.values();
  }

  /** Drops the scopes with nothing in them at `now`. */
  evictIdle(now: number): void {
    for (const map of [this.clients, this.models]) {
      for (const [id, scope] of map) if (scope.idle(now)) map.delete(id);
    }
  }

  /**
   * Admits `demand` or refuses it. Admitted, it counts at once in its client's and its model's
   * scope (one request, its tokens, one in flight); refused, it counts nowhere.
   */
  admit(demand: Demand): Admission {
    const now = this.#now();
    const client = limited(demand.clientLimits) ? this.scope("client", demand.clientId) : undefined;
    const model = demand.modelLimits && limited(demand.modelLimits)
      ? this.scope("model", demand.model)
      : undefined;
    let breach: Breach | undefined;
    const meet = (found: Breach | undefined) => {
      if (found === undefined) return;
      if (breach === undefined) breach = found;
      else breach.waitMs = Math.max(breach.waitMs, found.waitMs);
    };
    if (client) meet(check(client, demand.clientLimits, demand.tokens, now));
    if (model) meet(check(model, demand.modelLimits!, demand.tokens, now));
    if (breach !== undefined) {
      return {
        ok: false,
        headers: standingHeaders(client, demand.clientLimits, model, demand.modelLimits, now),
        kind: breach.kind,
        message: breach.message,
        retryAfterS: retryAfterSeconds(breach.waitMs),
      };
    }
    const bucket = bucketOf(now);
    for (const scope of [client, model]) {
      if (scope === undefined) continue;
      scope.requests.add(bucket, 1, now);
      scope.tokens.add(bucket, demand.tokens, now);
      scope.inflight++;
    }
    return {
      ok: true,
      headers: standingHeaders(client, demand.clientLimits, model, demand.modelLimits, now),
      ticket: new Ticket(this.#now, [client, model], bucket, demand.tokens),
    };
  }
}

/** An admitted request's hold on its scopes, given back once by {@linkcode finish}. */
export class Ticket {
  /** The tokens charged at admission. */
  readonly reserved: number;
  readonly #now: () => number;
  readonly #scopes: (Scope | undefined)[];
  readonly #bucket: number;
  #done = false;

  /**
   * @param now the limiter's clock
   * @param scopes the scopes the request counts in
   * @param bucket the bucket it was charged in
   * @param reserved the tokens charged
   */
  constructor(now: () => number, scopes: (Scope | undefined)[], bucket: number, reserved: number) {
    this.#now = now;
    this.#scopes = scopes;
    this.#bucket = bucket;
    this.reserved = reserved;
  }

  /**
   * Ends the request: its in-flight slot is given back, and the tokens charged are corrected to
   * `usedTokens` in the bucket it was charged in (or, when that bucket has left the window, an
   * excess is charged now). Only the first call counts.
   */
  finish(usedTokens: number): void {
    if (this.#done) return;
    this.#done = true;
    const now = this.#now();
    const delta = usedTokens - this.reserved;
    for (const scope of this.#scopes) {
      if (scope === undefined) continue;
      scope.inflight--;
      if (delta !== 0 && !scope.tokens.add(this.#bucket, delta, now) && delta > 0) {
        scope.tokens.add(bucketOf(now), delta, now);
      }
    }
  }
}

/** Whether `limits` limits anything. */
export function limited(limits: PrincipalLimits): boolean {
  return limits.requestsPerMinute !== undefined || limits.tokensPerMinute !== undefined ||
    limits.maxConcurrent !== undefined;
}

/** The first limit of `scope` a request of `tokens` would pass, with the longest wait of those it would. */
function check(
  scope: Scope,
  limits: PrincipalLimits,
  tokens: number,
  now: number,
): Breach | undefined {
  const who = `${scope.kind} "${scope.id}"`;
  let breach: Breach | undefined;
  const rpm = limits.requestsPerMinute;
  if (rpm !== undefined) {
    const waitMs = scope.requests.waitMs(1, rpm, now);
    if (waitMs > 0) {
      breach = {
        kind: "requests",
        message: `Rate limit reached for ${who} on requests per minute: limit ${rpm}, used ${
          Math.round(scope.requests.used(now))
        }, requested 1; retry in ${retryAfterSeconds(waitMs)} s`,
        waitMs,
      };
    }
  }
  const tpm = limits.tokensPerMinute;
  if (tpm !== undefined) {
    const waitMs = scope.tokens.waitMs(tokens, tpm, now);
    if (waitMs === Infinity) {
      // It can never fit: waiting does not help, so this one is told first.
      return {
        kind: "tokens",
        message: `Request too large for ${who} on tokens per minute: limit ${tpm}, requested ${
          Math.round(tokens)
        } (prompt estimate plus max_tokens); lower max_tokens or shorten the prompt`,
        waitMs: 60_000,
      };
    }
    if (waitMs > 0) {
      const found: Breach = {
        kind: "tokens",
        message: `Rate limit reached for ${who} on tokens per minute: limit ${tpm}, used ${
          Math.round(scope.tokens.used(now))
        }, requested ${Math.round(tokens)}; retry in ${retryAfterSeconds(waitMs)} s`,
        waitMs,
      };
      if (breach === undefined) breach = found;
      else breach.waitMs = Math.max(breach.waitMs, waitMs);
    }
  }
  const cap = limits.maxConcurrent;
  if (cap !== undefined && scope.inflight + scope.elsewhere >= cap) {
    breach ??= {
      kind: "concurrency",
      message:
        `Too many concurrent requests for ${who}: limit ${cap} in flight; retry when one has finished`,
      waitMs: 1_000,
    };
  }
  return breach;
}

/**
 * The `x-ratelimit-*` headers: for each metric, the scope with the least left of those that
 * limit it.
 */
function standingHeaders(
  client: Scope | undefined,
  clientLimits: PrincipalLimits,
  model: Scope | undefined,
  modelLimits: PrincipalLimits | undefined,
  now: number,
): [string, string][] {
  const headers: [string, string][] = [];
  const requests = tighter(
    client && standing(client.requests, clientLimits.requestsPerMinute, now),
    model && standing(model.requests, modelLimits?.requestsPerMinute, now),
  );
  if (requests) pushRateLimitHeaders(headers, "requests", requests);
  const tokens = tighter(
    client && standing(client.tokens, clientLimits.tokensPerMinute, now),
    model && standing(model.tokens, modelLimits?.tokensPerMinute, now),
  );
  if (tokens) pushRateLimitHeaders(headers, "tokens", tokens);
  return headers;
}

function standing(
  window: SlidingWindow,
  limit: number | undefined,
  now: number,
): MetricStanding | undefined {
  if (limit === undefined) return undefined;
  return { limit, remaining: limit - window.used(now), resetMs: window.resetMs(now) };
}

function tighter(
  a: MetricStanding | undefined,
  b: MetricStanding | undefined,
): MetricStanding | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return b.remaining < a.remaining ? b : a;
}

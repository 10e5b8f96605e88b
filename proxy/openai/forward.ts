/** The hot path: validate and route an OpenAI request, then try backends until one answers. */
import type { z } from "zod";
import type { HeadersConfig, ProxyConfig } from "../../config/mod.ts";
import type { RequestOutcome, ScrapedLoad } from "../../actors/backend/mod.ts";
import type {
  BackendView,
  CacheReport,
  ModelRouter,
  RequestFeatures,
} from "../../actors/router/mod.ts";
import { notePick, type RecordStore, type RequestRecord } from "../records.ts";
import { pickNote } from "../../actors/router/mod.ts";
import type { UpstreamClient } from "../upstream/mod.ts";
import { modelNotFoundMessage } from "../errors.ts";
import { Attempt, type Outgoing } from "./attempt.ts";
import { parseClientRequest } from "./client_request.ts";
import type { Deadlines } from "./deadlines.ts";
import { Exchange, type ExchangeOptions } from "./exchange.ts";
import type { RoutedBody } from "./schemas.ts";
import type { Admission } from "../../actors/admission/mod.ts";
import { admitRequest } from "./admission.ts";
import { allowsModel, principalOf } from "../auth/principal.ts";
import { CREDENTIAL_HEADERS } from "../auth/credentials.ts";
import { modelNotAllowedMessage } from "../auth/refusals.ts";
import type { RateLimits } from "../limits/mod.ts";
import type { SessionHomes } from "../sessions/homes.ts";

/**
 * The calls the hot path makes on a model's router; `release` is told the attempt's outcome (an
 * admission ticket feeds its latency to the replica's adaptive limit) and the request's features
 * (the router's strategies let go of the work they counted for it there).
 */
export type ForwardRouter = Pick<ModelRouter, "pick" | "acquire"> & {
  release(view: BackendView, outcome?: RequestOutcome, request?: RequestFeatures): void;
  /** Told that `request`'s first token came from `view`. */
  prefilled?(view: BackendView, request: RequestFeatures): void;
};

/** What the hot path needs from the rest of the gateway. */
export interface ForwardContext {
  /** `proxy:` settings. */
  proxy: ProxyConfig;
  /** `headers:` names. */
  headers: HeadersConfig;
  /** The router of `model`, or undefined when the model is unknown. */
  router(model: string): ForwardRouter | undefined;
  /** Computes the routing features of a body. */
  features(body: unknown, sessionId: string | undefined): RequestFeatures;
  /** Told when a request is sent to a backend. */
  started(backend: BackendView): void;
  /** Told when a request on a backend ends. */
  finished(backend: BackendView, outcome: RequestOutcome): void;
  /**
   * The last scrape of backend `backendId` of `model`, fresher by a request's end than the view it
   * was picked from (its record takes the replica's queue time from it); none without it.
   */
  replicaLoad?(model: string, backendId: string): ScrapedLoad | undefined;
  /**
   * Told what a backend reported of a successful request's cached prefix (its usage), for the
   * router's estimate of its cache; unset (`proxy.prefix_feedback: false`), the estimate is open loop.
   */
  cacheReport?(backend: BackendView, features: RequestFeatures, report: CacheReport): void;
  /** Where per-request records go. */
  records: RecordStore;
  /** The pooled HTTP client requests go upstream with. */
  upstream: Pick<UpstreamClient, "request">;
  /** Request timeouts. */
  deadlines: Deadlines;
  /** Admission control (`admission:`): in-flight caps, the queue per model; none without it. */
  admission?: Admission;
  /** The rate limits (`limits:`); none are checked without it. */
  limits?: Pick<RateLimits, "limit">;
  /** Logs a finished request's prompt (`logging.log_prompts: true`); prompts are never logged without it. */
  logPrompt?: (record: RequestRecord, json: unknown) => void;
}

/** Options of {@linkcode forwardOpenAI}: one per route, made once. */
export interface ForwardOptions extends ExchangeOptions {
  /** The endpoint's body schema. */
  schema: z.ZodType<RoutedBody>;
  /** A hand check of a subset of the bodies `schema` accepts, run first (see `isPlainChatBody`). */
  accepts?: (json: unknown) => json is RoutedBody;
  /**
   * Sees each answer before the client does and returns the one sent (the sessions record plain
   * chat calls that carry the session header through it). It must not wait on anything.
   */
  observe?: (exchange: Exchange, json: unknown, response: Response) => Response;
  /**
   * The replicas sessions were served by last, for calls that carry the session header: the
   * session's replica is preferred (within the load bound), and the one that served is recorded.
   */
  homes?: Pick<SessionHomes, "get" | "set">;
}

/** Request headers that are not forwarded: the gateway sets its own, or they describe the hop. */
const HOP_BY_HOP = new Set([
  "content-type",
  "x-request-id",
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "proxy-authorization",
  "proxy-authenticate",
  "host",
  "content-length",
  "accept-encoding",
]);

/** Not forwarded once auth is on either: the caller's credentials are the gateway's, not the replica's. */
const HOP_BY_HOP_AND_CREDENTIALS = new Set([...HOP_BY_HOP, ...CREDENTIAL_HEADERS]);

/**
 * Handles one OpenAI POST to `options.endpoint`: validates the body with `options.schema`, routes
 * by `model`, forwards the original bytes and relays the answer, trying up to
 * `proxy.max_retries` more backends while a failure is safe to retry.
 */
export async function forwardOpenAI(request: Request, options: ForwardOptions): Promise<Response> {
  const { context } = options;
  const exchange = new Exchange(request, options);
  const parsed = await parseClientRequest(request, {
    maxBytes: context.proxy.max_body_bytes,
    schema: options.schema,
    ...(options.accepts ? { accepts: options.accepts } : {}),
  });
  if (!parsed.ok) return exchange.refuse(parsed.status, parsed.message, parsed);
  const sessionId = exchange.record.sessionId;
  const homes = sessionId === undefined ? undefined : options.homes;
  // Known in memory, the home is at hand: no await, whose turn of the event loop a call would wait.
  let homeBackend = homes?.get(sessionId!);
  if (homeBackend instanceof Promise) homeBackend = await homeBackend;
  const response = await sendRouted(request, exchange, {
    model: parsed.body.model,
    stream: parsed.body.stream === true,
    json: parsed.json,
    bytes: parsed.bytes,
    homeBackend,
  });
  const served = response.headers.get("x-turnpike-backend");
  if (homes && served !== null && response.status < 300) homes.set(sessionId!, served);
  return options.observe ? options.observe(exchange, parsed.json, response) : response;
}

/** A request body ready to route: what a client sent, or what a session turn built. */
export interface RoutedRequest {
  /** The `model` field. */
  model: string;
  /** Whether the client asked for a stream. */
  stream: boolean;
  /** The parsed body, for the routing features. */
  json: unknown;
  /** The bytes sent upstream. */
  bytes: Uint8Array;
  /** The replica a session was served by last: preferred while within the load bound. */
  homeBackend?: string | null | undefined;
  /** Answers from the upstream answer instead of relaying it as is (see {@linkcode Outgoing.answer}). */
  answer?: Outgoing["answer"];
}

/**
 * Routes `routed` for the client request `request` and tries backends until one answers, up to
 * `proxy.max_retries` more while a failure is safe to retry.
 */
export async function sendRouted(
  request: Request,
  exchange: Exchange,
  routed: RoutedRequest,
): Promise<Response> {
  const { context } = exchange;
  const { model } = routed;
  const record = exchange.record;
  record.model = model;
  record.stream = routed.stream;
  const logPrompt = context.logPrompt;
  if (logPrompt !== undefined) (exchange.onFinish ??= []).push((r) => logPrompt(r, routed.json));
  const router = context.router(model);
  if (!router) {
    return exchange.refuse(
      404,
      modelNotFoundMessage(model),
      { param: "model", code: "model_not_found" },
    );
  }
  const principal = principalOf(request);
  if (!allowsModel(principal, model)) {
    return exchange.refuse(403, modelNotAllowedMessage(model), {
      param: "model",
      code: "model_not_allowed",
    });
  }
  const limited = context.limits?.limit(request, exchange, routed);
  if (limited !== undefined) return limited;
  const features = context.features(routed.json, record.sessionId);
  if (routed.homeBackend) features.homeBackend = routed.homeBackend;
  const headers: [string, string][] = [
    ["content-type", "application/json"],
    ["x-request-id", record.requestId],
  ];
  const dropped = principal === undefined ? HOP_BY_HOP : HOP_BY_HOP_AND_CREDENTIALS;
  for (const pair of request.headers) {
    if (!dropped.has(pair[0])) headers.push(pair);
  }
  const outgoing: Outgoing = { exchange, router, headers, body: routed.bytes, features };
  if (routed.answer) outgoing.answer = routed.answer;
  const admitted = context.admission &&
    admitRequest(request, exchange, routed, { admission: context.admission, router, features });
  if (admitted instanceof Response) return admitted;
  if (admitted) {
    outgoing.router = admitted.router;
    outgoing.body = admitted.body;
  }
  exchange.arm();
  const tried = new Set<string>();
  const note = pickNote();
  for (let attempt = 0; attempt <= context.proxy.max_retries; attempt++) {
    let backend = outgoing.router.pick(features, tried, note);
    if (!backend && admitted) {
      // Every backend it may use is at its cap: wait in the model's queue (or be refused now).
      const waited = await admitted.wait(tried);
      if (waited instanceof Response) return waited;
      backend = waited;
      note.reason = "queued";
    }
    if (!backend) break;
    notePick(record, note);
    tried.add(backend.id);
    const answer = await new Attempt(outgoing, backend).run();
    if (answer) return answer;
  }
  if (tried.size === 0) {
    return exchange.refuse(
      503,
      `No healthy backend serves "${model}" right now; retry after a few seconds`,
      { code: "no_healthy_backend", retryAfter: "5", reason: "no healthy backend" },
    );
  }
  return exchange.refuse(
    502,
    `Every backend tried for "${model}" failed (${exchange.lastError}); retry later`,
    { code: "upstream_error", retryAfter: "1", reason: exchange.lastError },
  );
}

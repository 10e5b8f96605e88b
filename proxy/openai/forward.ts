/** The hot path: pick a backend, send the request upstream, relay the answer unbuffered, retry before the first byte. */
import type { z } from "zod";
import type { HeadersConfig, ProxyConfig } from "../../config/schema.ts";
import type { RequestOutcome } from "../../actors/backend/backend_state.ts";
import type { ModelRouter } from "../../actors/router/model_router.ts";
import type { BackendView, RequestFeatures } from "../../actors/router/strategies/types.ts";
import { type ErrorOptions as OpenAIErrorOptions, errorResponse } from "../errors.ts";
import { parseClientRequest } from "./client_request.ts";
import { type RecordStore, startRecord } from "../records.ts";
import type { RoutedBody } from "./schemas.ts";
import { UsageTap } from "./usage_tap.ts";
import { relay } from "./relay.ts";
import type { UpstreamClient, UpstreamResponse } from "../upstream/client.ts";
import type { Deadlines } from "./deadlines.ts";

/** What the hot path needs from the rest of the gateway. */
export interface ForwardContext {
  /** `proxy:` settings. */
  proxy: ProxyConfig;
  /** `headers:` names. */
  headers: HeadersConfig;
  /** The router of `model`, or undefined when the model is unknown. */
  router(model: string): ModelRouter | undefined;
  /** Computes the routing features of a body. */
  features(body: unknown, sessionId: string | undefined): RequestFeatures;
  /** Told when a request is sent to a backend. */
  started(model: string, backend: BackendView): void;
  /** Told when a request on a backend ends. */
  finished(model: string, backend: BackendView, outcome: RequestOutcome): void;
  /** Where per-request records go. */
  records: RecordStore;
  /** The pooled HTTP client requests go upstream with. */
  upstream: UpstreamClient;
  /** Request timeouts. */
  deadlines: Deadlines;
}

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

/** Non-streamed answers up to this size (with a Content-Length) are read whole and written at once. */
const BUFFER_LIMIT_BYTES = 1 << 20;
/** OpenAI puts `usage` at the end of a JSON answer: only this tail is scanned for it. */
const USAGE_TAIL_BYTES = 4096;

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/**
 * Handles one OpenAI POST (`endpoint` is its path, e.g. `/v1/chat/completions`): validates the
 * body with `schema`, routes by `model`, forwards the original bytes and relays the answer.
 */
export async function forwardOpenAI(
  request: Request,
  endpoint: string,
  options: { context: ForwardContext; schema: z.ZodType<RoutedBody> },
): Promise<Response> {
  const { context, schema } = options;
  const startedAt = performance.now();
  const requestId = request.headers.get("x-request-id") || crypto.randomUUID();
  const idHeader = { "x-request-id": requestId };
  const record = startRecord(request, {
    requestId,
    endpoint,
    startedAtMs: Date.now(),
    names: context.headers,
  });
  const finish = (status: number, error?: string) => {
    record.status = status;
    record.error = error;
    record.totalMs = round(performance.now() - startedAt);
    if (record.gatewayMs === 0) record.gatewayMs = record.totalMs;
    context.records.add(record);
  };
  // Every error answer is recorded, those refused before routing too, so a session's failed turns show up.
  const refuse = (
    status: number,
    message: string,
    error: OpenAIErrorOptions & { retryAfter?: string; reason?: string },
  ) => {
    finish(status, error.reason ?? message);
    const headers = error.retryAfter === undefined
      ? idHeader
      : { ...idHeader, "retry-after": error.retryAfter };
    return errorResponse(status, message, {
      param: error.param ?? null,
      code: error.code ?? null,
      headers,
    });
  };

  const parsed = await parseClientRequest(request, {
    maxBytes: context.proxy.max_body_bytes,
    schema,
  });
  if (!parsed.ok) return refuse(parsed.status, parsed.message, parsed);
  const { bytes, json, body } = parsed;
  record.model = body.model;
  const stream = body.stream === true;
  record.stream = stream;
  const router = context.router(body.model);
  if (!router) {
    return refuse(
      404,
      `The model "${body.model}" does not exist; GET /v1/models lists the served ones`,
      { param: "model", code: "model_not_found" },
    );
  }
  const features = context.features(json, record.sessionId);

  const upstreamHeaders: [string, string][] = [["content-type", "application/json"], [
    "x-request-id",
    requestId,
  ]];
  for (const pair of request.headers) {
    if (!HOP_BY_HOP.has(pair[0])) upstreamHeaders.push(pair);
  }

  // One controller aborts the upstream call: on client disconnect or on the request timeout.
  const abort = new AbortController();
  const clientSignal = request.signal;
  const onClientAbort = () => abort.abort("client");
  clientSignal.addEventListener("abort", onClientAbort, { once: true });
  const deadline = context.deadlines.add(
    context.proxy.request_timeout * 1000,
    () => abort.abort("timeout"),
  );
  const cleanup = () => {
    context.deadlines.remove(deadline);
    clientSignal.removeEventListener("abort", onClientAbort);
  };

  // The answer when the client left or the timeout struck before anything was relayed.
  const aborted = (backend: BackendView): Response => {
    context.finished(body.model, backend, { ok: false, aborted: true });
    cleanup();
    if (abort.signal.reason === "timeout") {
      return refuse(
        504,
        `The request took longer than ${context.proxy.request_timeout} s; retry or raise proxy.request_timeout`,
        { code: "request_timeout", reason: "request timeout" },
      );
    }
    return refuse(499, "The client closed the request", { reason: "client closed the request" });
  };
  // A failure before anything was relayed: the answer when it was an abort, else undefined and
  // the next attempt may try another backend.
  let lastError = "";
  const failed = (backend: BackendView, error: unknown): Response | undefined => {
    router.release(backend);
    if (abort.signal.aborted) return aborted(backend);
    lastError = `${backend.id}: ${error instanceof Error ? error.message : String(error)}`;
    context.finished(body.model, backend, { ok: false, error: lastError });
  };

  const tried = new Set<string>();
  for (let attempt = 0; attempt <= context.proxy.max_retries; attempt++) {
    const backend = router.pick(features, tried);
    if (!backend) break;
    tried.add(backend.id);
    record.attempts++;
    record.backendId = backend.id;
    router.acquire(backend);
    context.started(body.model, backend);
    const sentAt = performance.now();
    let upstream: UpstreamResponse;
    try {
      upstream = await context.upstream.request({
        method: "POST",
        baseUrl: backend.url,
        path: endpoint,
        headers: upstreamHeaders,
        body: bytes,
        signal: abort.signal,
      });
    } catch (error) {
      const answer = failed(backend, error);
      if (answer) return answer;
      continue;
    }
    if (upstream.status >= 500) {
      upstream.cancel();
      const answer = failed(backend, `HTTP ${upstream.status}`);
      if (answer) return answer;
      continue;
    }
    const headersAt = performance.now();
    const preMs = sentAt - startedAt;
    const responseHeaders = upstream.headers;
    responseHeaders.push(
      ["x-request-id", requestId],
      ["x-turnpike-backend", backend.id],
      [
        "server-timing",
        `gateway;dur=${preMs.toFixed(3)}, upstream;dur=${(headersAt - sentAt).toFixed(3)}`,
      ],
    );
    const isStream = upstream.contentType?.includes("text/event-stream") ?? stream;
    const length = upstream.contentLength ?? Infinity;
    if (!isStream && length <= BUFFER_LIMIT_BYTES) {
      // A whole JSON answer of known, small size: one read and one write beat a chunk-by-chunk
      // relay, and a failure while reading it can still be retried elsewhere.
      let answer: Uint8Array<ArrayBuffer>;
      try {
        answer = await upstream.bytes();
      } catch (error) {
        const failure = failed(backend, error);
        if (failure) return failure;
        continue;
      }
      const doneAt = performance.now();
      router.release(backend);
      cleanup();
      // A whole answer's time is a latency, not a time to first token: it feeds only the latency
      // EWMA, so least_latency is not misled by long non-streamed generations.
      context.finished(body.model, backend, { ok: true, totalMs: doneAt - sentAt });
      const tap = new UsageTap(false);
      tap.push(
        answer.byteLength > USAGE_TAIL_BYTES
          ? answer.subarray(answer.byteLength - USAGE_TAIL_BYTES)
          : answer,
      );
      const usage = tap.result();
      record.upstreamMs = round(doneAt - sentAt);
      record.gatewayMs = round(preMs + (performance.now() - doneAt));
      record.promptTokens = usage.promptTokens;
      record.completionTokens = usage.completionTokens;
      record.usageSource = usage.source;
      finish(upstream.status);
      return respond(
        answer.byteLength === 0 && upstream.status === 204 ? null : answer,
        upstream.status,
        responseHeaders,
      );
    }
    const relayed = relay(upstream, {
      stream: isStream,
      abort,
      onEnd(end) {
        router.release(backend);
        cleanup();
        const endAt = performance.now();
        const ok = end.kind === "done";
        context.finished(body.model, backend, {
          ok: ok && upstream.status < 500,
          aborted: end.kind === "client",
          // Only a stream's first byte is a first token; a large JSON body's first byte is not.
          ...(isStream && end.firstByteAt !== undefined
            ? { ttftMs: end.firstByteAt - sentAt }
            : {}),
          totalMs: endAt - sentAt,
          ...(end.kind === "error" ? { error: end.message } : {}),
        });
        if (isStream && end.firstByteAt !== undefined) {
          record.upstreamTtftMs = round(end.firstByteAt - sentAt);
        }
        record.upstreamMs = round(endAt - sentAt);
        record.gatewayMs = round(preMs + end.relayMs);
        record.promptTokens = end.usage.promptTokens;
        record.completionTokens = end.usage.completionTokens;
        record.usageSource = end.usage.source;
        finish(
          end.kind === "client" ? 499 : upstream.status,
          end.kind === "done" ? undefined : end.message,
        );
      },
    });
    return respond(relayed, upstream.status, responseHeaders);
  }
  cleanup();
  if (tried.size === 0) {
    return refuse(
      503,
      `No healthy backend serves "${body.model}" right now; retry after a few seconds`,
      { code: "no_healthy_backend", retryAfter: "5", reason: "no healthy backend" },
    );
  }
  return refuse(
    502,
    `Every backend tried for "${body.model}" failed (${lastError}); retry later`,
    { code: "upstream_error", retryAfter: "1", reason: lastError },
  );
}

/**
 * A response with `headers` appended one by one: in Deno this is several times cheaper than
 * passing them to the Response constructor, which matters at thousands of requests a second.
 */
function respond(body: BodyInit | null, status: number, headers: [string, string][]): Response {
  const response = new Response(body, { status });
  const target = response.headers;
  for (let i = 0; i < headers.length; i++) {
    const pair = headers[i]!;
    target.append(pair[0], pair[1]);
  }
  return response;
}

/** The hot path: pick a backend, send the request upstream, relay the answer unbuffered, retry before the first byte. */
import type { z } from "zod";
import type { HeadersConfig, ProxyConfig } from "../config/schema.ts";
import type { RequestOutcome } from "../actors/backend/backend_state.ts";
import type { ModelRouter } from "../actors/router/model_router.ts";
import type { BackendView, RequestFeatures } from "../actors/router/strategies/types.ts";
import { errorResponse } from "./errors.ts";
import type { RecordStore, RequestRecord } from "./records.ts";
import type { RoutedBody } from "./schemas.ts";
import { UsageTap } from "./usage_tap.ts";
import { relay } from "./relay.ts";
import type { UpstreamClient, UpstreamResponse } from "./upstream_client.ts";
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

const decoder = new TextDecoder();

/** Reads a body of at most `maxBytes`; undefined when it is larger. */
async function readBody(
  request: Request,
  maxBytes: number,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) return undefined;
  if (!request.body) return new Uint8Array(0);
  if (declared !== null) {
    const bytes = new Uint8Array(await request.arrayBuffer());
    return bytes.byteLength > maxBytes ? undefined : bytes;
  }
  const reader = request.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      return undefined;
    }
    parts.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

function numberHeader(value: string | null): number | undefined {
  if (value === null) return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

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
  const startedAtMs = Date.now();
  const requestId = request.headers.get("x-request-id") || crypto.randomUUID();
  const idHeader = { "x-request-id": requestId };
  const names = context.headers;
  const sessionId = request.headers.get(names.session) ?? undefined;

  let bytes: Uint8Array<ArrayBuffer> | undefined;
  try {
    bytes = await readBody(request, context.proxy.max_body_bytes);
  } catch {
    return errorResponse(400, "Could not read the request body; send it again", {
      headers: idHeader,
    });
  }
  if (bytes === undefined) {
    return errorResponse(
      413,
      `Request body is larger than ${context.proxy.max_body_bytes} bytes; send a smaller one`,
      {
        code: "request_too_large",
        headers: idHeader,
      },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(bytes));
  } catch {
    return errorResponse(400, "Request body is not valid JSON; send a JSON object", {
      code: "invalid_json",
      headers: idHeader,
    });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const param = issue && issue.path.length > 0 ? issue.path.join(".") : null;
    const what = param
      ? `"${param}": ${issue?.message ?? "invalid"}`
      : issue?.message ?? "invalid body";
    return errorResponse(400, `Invalid request body at ${what}; fix the field and retry`, {
      param,
      code: "invalid_request",
      headers: idHeader,
    });
  }
  const body = parsed.data;
  const router = context.router(body.model);
  if (!router) {
    return errorResponse(
      404,
      `The model "${body.model}" does not exist; GET /v1/models lists the served ones`,
      {
        param: "model",
        code: "model_not_found",
        headers: idHeader,
      },
    );
  }
  const features = context.features(json, sessionId);
  const stream = body.stream === true;

  const record: RequestRecord = {
    requestId,
    model: body.model,
    endpoint,
    stream,
    status: 0,
    backendId: undefined,
    attempts: 0,
    sessionId,
    taskId: request.headers.get(names.task) ?? undefined,
    clientId: request.headers.get(names.client) ?? undefined,
    clientPreMs: numberHeader(request.headers.get(names.timing_pre)),
    clientPostMs: numberHeader(request.headers.get(names.timing_post)),
    startedAtMs,
    gatewayMs: 0,
    upstreamTtftMs: undefined,
    totalMs: 0,
    promptTokens: undefined,
    completionTokens: undefined,
    usageSource: "none",
    error: undefined,
  };
  const finish = (status: number, error?: string) => {
    record.status = status;
    record.error = error;
    record.totalMs = round(performance.now() - startedAt);
    if (record.gatewayMs === 0) record.gatewayMs = record.totalMs;
    context.records.add(record);
  };

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
      finish(504, "request timeout");
      return timeoutResponse(context, idHeader);
    }
    finish(499, "client closed the request");
    return errorResponse(499, "The client closed the request", { headers: idHeader });
  };

  const tried = new Set<string>();
  let lastError = "";
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
      router.release(backend);
      if (abort.signal.aborted) return aborted(backend);
      lastError = `${backend.id}: ${error instanceof Error ? error.message : String(error)}`;
      context.finished(body.model, backend, { ok: false, error: lastError });
      continue;
    }
    if (upstream.status >= 500) {
      router.release(backend);
      lastError = `${backend.id}: HTTP ${upstream.status}`;
      context.finished(body.model, backend, { ok: false, error: lastError });
      upstream.cancel();
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
        router.release(backend);
        if (abort.signal.aborted) return aborted(backend);
        lastError = `${backend.id}: ${error instanceof Error ? error.message : String(error)}`;
        context.finished(body.model, backend, { ok: false, error: lastError });
        continue;
      }
      const doneAt = performance.now();
      router.release(backend);
      cleanup();
      context.finished(body.model, backend, {
        ok: true,
        ttftMs: doneAt - sentAt,
        totalMs: doneAt - sentAt,
      });
      const tap = new UsageTap(false);
      tap.push(
        answer.byteLength > USAGE_TAIL_BYTES
          ? answer.subarray(answer.byteLength - USAGE_TAIL_BYTES)
          : answer,
      );
      const usage = tap.result();
      record.upstreamTtftMs = round(doneAt - sentAt);
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
          ...(end.firstByteAt === undefined ? {} : { ttftMs: end.firstByteAt - sentAt }),
          totalMs: endAt - sentAt,
          ...(end.kind === "error" ? { error: end.message } : {}),
        });
        if (end.firstByteAt !== undefined) record.upstreamTtftMs = round(end.firstByteAt - sentAt);
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
    finish(503, "no healthy backend");
    return errorResponse(
      503,
      `No healthy backend serves "${body.model}" right now; retry after a few seconds`,
      {
        code: "no_healthy_backend",
        headers: { ...idHeader, "retry-after": "5" },
      },
    );
  }
  finish(502, lastError);
  return errorResponse(
    502,
    `Every backend tried for "${body.model}" failed (${lastError}); retry later`,
    {
      code: "upstream_error",
      headers: { ...idHeader, "retry-after": "1" },
    },
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

function timeoutResponse(context: ForwardContext, headers: Record<string, string>): Response {
  return errorResponse(
    504,
    `The request took longer than ${context.proxy.request_timeout} s; retry or raise proxy.request_timeout`,
    {
      code: "request_timeout",
      headers,
    },
  );
}

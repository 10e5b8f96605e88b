/** One attempt: a request sent to one backend, and what its answer or failure becomes for the client. */
import type { RequestOutcome } from "../../actors/backend/mod.ts";
import {
  type BackendView,
  CHARS_PER_TOKEN,
  type RequestFeatures,
} from "../../actors/router/mod.ts";
import { UpstreamError, type UpstreamResponse } from "../upstream/mod.ts";
import { noteReplicaLoad } from "../records.ts";
import { noteChunkGaps } from "../chunk_gaps.ts";
import { bufferedAnswer } from "./buffered.ts";
import { type Exchange, roundMs } from "./exchange.ts";
import type { ForwardRouter } from "./forward.ts";
import { type BodyTap, relay, type RelayEnd, type RelayOptions } from "./relay.ts";

/** What every attempt of one request sends. */
export interface Outgoing {
  /** The request. */
  exchange: Exchange;
  /** The router of its model. */
  router: ForwardRouter;
  /** Header pairs for the replica. */
  headers: [string, string][];
  /** The client's body bytes, forwarded unchanged. */
  body: Uint8Array;
  /** The request's routing features: the replica's cache report on it goes back to the router. */
  features?: RequestFeatures;
  /**
   * Answers the client from a successful (below 500) upstream answer instead of relaying it as
   * is: a session turn reads the stream itself. It calls {@linkcode Attempt.takeRelay} or
   * {@linkcode Attempt.answerAsIs}.
   */
  answer?: (attempt: Attempt) => Response | Promise<Response>;
}

/** Non-streamed answers up to this size (with a Content-Length) are read whole and written at once. */
const BUFFER_LIMIT_BYTES = 1 << 20;
/** The outcome of an attempt cut short by the client or the request timeout. */
const ABORTED: RequestOutcome = { ok: false, aborted: true };

/**
 * Why a successful answer's content type is one no client of this request could read ("" when it
 * is fine): a stream must be `text/event-stream`, a whole answer JSON (or a stream, which is
 * relayed as one). An answer without a content type is let through.
 */
function unreadableType(stream: boolean, contentType: string | undefined): string {
  if (contentType === undefined) return "";
  const sse = contentType.includes("text/event-stream");
  if (stream ? sse : sse || contentType.includes("json")) return "";
  return `its answer to a ${stream ? "stream" : "request"} came as ${
    JSON.stringify(contentType.slice(0, 64))
  }`;
}

/** Whether a JSON answer's body is at least framed as JSON: a `{` or `[` first and its match last. */
function looksLikeJson(body: Uint8Array): boolean {
  let start = 0;
  let end = body.length - 1;
  while (start <= end && body[start]! <= 32) start++;
  while (end >= start && body[end]! <= 32) end--;
  if (start > end) return body.length === 0;
  const first = body[start];
  return (first === 123 && body[end] === 125) || (first === 91 && body[end] === 93);
}

/**
 * Sends a request to one backend and answers the client from what comes back. It holds the
 * backend's in-flight count and the upstream body until the answer is complete or the relay takes
 * them over; {@linkcode close} gives them back on every path.
 */
export class Attempt implements RelayOptions {
  /** What is sent. */
  readonly outgoing: Outgoing;
  /** Where it is sent. */
  readonly backend: BackendView;
  /** `performance.now()` when the request went upstream. */
  sentAt = 0;
  /** Whether the answer is an SSE stream. */
  stream = false;
  /** What the backend's actor is told when the attempt ends; set by its answer or its failure. */
  outcome: RequestOutcome = ABORTED;
  #upstream: UpstreamResponse | undefined;
  /** Whether close() has run: the backend is given back once, however the attempt ends. */
  #closed = false;
  #headersAt = 0;
  /** Whether the upstream body is unread and this attempt, not the relay, must cancel it. */
  #ownsBody = false;
  #relaying = false;

  /**
   * @param outgoing what the request sends
   * @param backend the backend to send it to
   */
  constructor(outgoing: Outgoing, backend: BackendView) {
    this.outgoing = outgoing;
    this.backend = backend;
  }

  /** The request's abort, which the relay fires when the client cancels. */
  get abort(): AbortController {
    return this.outgoing.exchange.abort;
  }

  /**
   * Sends the request and answers; undefined when it failed in a way another backend may retry:
   * the replica cannot have started it, or it answered a 5xx before anything was relayed.
   */
  async run(): Promise<Response | undefined> {
    const { exchange, router } = this.outgoing;
    const { context, record } = exchange;
    record.attempts++;
    record.backendId = this.backend.id;
    router.acquire(this.backend);
    context.started(this.backend);
    this.sentAt = performance.now();
    try {
      const upstream = await context.upstream.request({
        method: "POST",
        baseUrl: this.backend.url,
        path: record.endpoint,
        headers: this.outgoing.headers,
        body: this.outgoing.body,
        signal: exchange.abort.signal,
        // A stream's head comes at once; a whole answer's only after the generation, which
        // request_timeout bounds.
        firstByteTimeoutMs: record.stream ? context.proxy.first_byte_timeout * 1000 : null,
      });
      this.#upstream = upstream;
      this.#ownsBody = true;
      this.#headersAt = performance.now();
      const status = upstream.status;
      // The replica answered: nothing runs there any more, so another one may take the request.
      if (status >= 500) return this.#retry(`HTTP ${status}`);
      // A 200 no client could read (an HTML error page, JSON for a stream) is a failure too.
      const unreadable = status < 300 ? unreadableType(record.stream, upstream.contentType) : "";
      if (unreadable) return this.#retry(unreadable);
      this.stream = upstream.contentType?.includes("text/event-stream") ?? record.stream;
      const answer = this.outgoing.answer;
      return answer ? await answer(this) : await this.answerAsIs();
    } catch (error) {
      return this.#failed(error);
    } finally {
      if (!this.#relaying) this.close();
    }
  }

  /** The upstream answer's status. */
  get status(): number {
    return this.#upstream!.status;
  }

  /** Relays the upstream answer as it came: a small JSON body at once, anything else chunk by chunk. */
  async answerAsIs(): Promise<Response> {
    const upstream = this.#upstream!;
    const status = upstream.status;
    if (
      !this.stream && (upstream.contentLength ?? Infinity) <= BUFFER_LIMIT_BYTES ||
      status === 204 || status === 304
    ) {
      const answer = await upstream.bytes();
      this.#ownsBody = false;
      if (status < 300 && !this.stream && !looksLikeJson(answer)) {
        const reason = `${this.backend.id}: its answer is not JSON`;
        this.outcome = { ok: false, error: reason };
        return this.outgoing.exchange.refuse(
          502,
          `The backend ${this.backend.id} answered with a body that is not JSON; retry the request`,
          { code: "upstream_invalid_response", reason },
        );
      }
      return bufferedAnswer(this, answer);
    }
    const response = this.respond(relay(upstream, this));
    this.#ownsBody = false;
    this.#relaying = true;
    this.outgoing.exchange.relaysBody = true;
    return response;
  }

  /** The relay's tap: the exchange's, as the answer's observer set it. */
  bodyTap(): BodyTap | undefined {
    return this.outgoing.exchange.bodyTap;
  }

  /**
   * Hands the upstream body over as the relay's stream, for the caller to read: the relay then
   * settles and closes this attempt when the body ends, and the caller must read it to its end or
   * cancel it.
   */
  takeRelay(): ReadableStream<Uint8Array> {
    const body = relay(this.#upstream!, this);
    this.#ownsBody = false;
    this.#relaying = true;
    return body;
  }

  /** The gateway's own response headers of this attempt (request id, backend, timing, rate limits). */
  gatewayHeaders(): [string, string][] {
    const exchange = this.outgoing.exchange;
    const headers: [string, string][] = [
      ["x-request-id", exchange.record.requestId],
      ["x-turnpike-backend", this.backend.id],
      [
        "server-timing",
        `gateway;dur=${(this.sentAt - exchange.startedAt).toFixed(3)}, upstream;dur=${
          (this.#headersAt - this.sentAt).toFixed(3)
        }`,
      ],
    ];
    const predicted = this.#predictedCachedTokens();
    if (predicted !== undefined) headers.push(["x-turnpike-cached-estimate", String(predicted)]);
    if (exchange.extraHeaders !== undefined) headers.push(...exchange.extraHeaders);
    return headers;
  }

  /**
   * The client's response: the upstream status and headers with the gateway's own. Throws an
   * `UpstreamError` of kind `protocol` when an upstream header cannot be relayed.
   */
  respond(body: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array> | null): Response {
    const upstream = this.#upstream!;
    const status = upstream.status;
    const response = new Response(status === 204 || status === 304 ? null : body, { status });
    // Appending one by one is several times cheaper in Deno than handing the Response
    // constructor a header list, which matters at thousands of requests a second.
    const target = response.headers;
    const pairs = upstream.headers;
    let i = 0;
    try {
      for (; i < pairs.length; i++) target.append(pairs[i]![0], pairs[i]![1]);
    } catch (error) {
      const name = JSON.stringify(pairs[i]![0].slice(0, 64));
      throw new UpstreamError("protocol", `its answer's header ${name} cannot be relayed`, {
        cause: error,
      });
    }
    for (const [name, value] of this.gatewayHeaders()) target.append(name, value);
    return response;
  }

  /** Records how the answer ended (`endAt` is when its last byte came) and finishes the request. */
  settle(end: RelayEnd, endAt: number): void {
    const status = this.#upstream!.status;
    const outcome: RequestOutcome = {
      ok: end.kind === "done" && status < 500,
      aborted: end.kind === "client",
      totalMs: endAt - this.sentAt,
    };
    const exchange = this.outgoing.exchange;
    const record = exchange.record;
    // Only a stream's first byte is a first token; a JSON body's first byte is not, and a whole
    // answer's time feeds only the latency EWMA, so least_latency is not misled by long generations.
    if (this.stream && end.firstByteAt !== undefined) {
      outcome.ttftMs = end.firstByteAt - this.sentAt;
      record.upstreamTtftMs = roundMs(outcome.ttftMs);
    }
    if (end.kind === "error") outcome.error = end.message;
    // Cut by the request timeout: the replica's fault only if it was idle (see replicaBusy).
    if (end.kind === "error" && this.abort.signal.reason === "timeout") outcome.timedOut = true;
    this.outcome = outcome;
    record.upstreamMs = roundMs(endAt - this.sentAt);
    if (this.stream) record.upstreamHeadMs = roundMs(this.#headersAt - this.sentAt);
    noteReplicaLoad(
      record,
      this.backend.load,
      exchange.context.replicaLoad?.(record.model, this.backend.id),
    );
    if (end.usage.cachedTokens !== undefined) record.cachedTokens = end.usage.cachedTokens;
    if (end.gaps !== undefined && end.gaps.count > 0) noteChunkGaps(record, end.gaps);
    const predicted = this.#predictedCachedTokens();
    if (predicted !== undefined) record.predictedCachedTokens = predicted;
    record.gatewayMs = roundMs(this.sentAt - exchange.startedAt + end.relayMs);
    record.promptTokens = end.usage.promptTokens;
    record.completionTokens = end.usage.completionTokens;
    record.usageSource = end.usage.source;
    const { promptTokens, cachedTokens } = end.usage;
    const features = this.outgoing.features;
    if (
      outcome.ok && features !== undefined && promptTokens !== undefined &&
      cachedTokens !== undefined
    ) {
      exchange.context.cacheReport?.(this.backend, features, { promptTokens, cachedTokens });
    }
    exchange.finish(
      end.kind === "client" ? 499 : status,
      end.kind === "done" ? undefined : end.message,
    );
  }

  /** The relay's first chunk: a stream's first token, so the router may let go of its prefill work. */
  onFirstByte(): void {
    const features = this.outgoing.features;
    if (this.stream && features !== undefined && !this.#closed) {
      this.outgoing.router.prefilled?.(this.backend, features);
    }
  }

  /** The relay's end: settles the request and closes the attempt, unless it was closed already. */
  onEnd(end: RelayEnd): void {
    if (this.#closed) return;
    this.settle(end, performance.now());
    this.close();
  }

  /** Gives back the backend's in-flight count and an unread upstream body, and tells the backend's actor; once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.outgoing.router.release(this.backend, this.outcome, this.outgoing.features);
    if (this.#ownsBody) {
      this.#ownsBody = false;
      this.#upstream!.cancel();
    }
    const { exchange } = this.outgoing;
    exchange.context.finished(this.backend, this.outcome);
  }

  /**
   * The router's estimate of the replica's cached prefix, in tokens, to set beside the answer's
   * usage.prompt_tokens_details.cached_tokens; undefined when no strategy estimated it.
   */
  #predictedCachedTokens(): number | undefined {
    const predicted = this.outgoing.features?.predictedPrefixBlocks;
    if (predicted === undefined) return undefined;
    const chars = predicted * this.outgoing.exchange.context.proxy.prefix_block_chars;
    return Math.round(chars / CHARS_PER_TOKEN);
  }

  /** Notes a failure another backend may retry. */
  #retry(detail: string): undefined {
    const reason = `${this.backend.id}: ${detail}`;
    this.outcome = { ok: false, error: reason };
    this.outgoing.exchange.lastError = reason;
    return undefined;
  }

  /**
   * The answer to a failure before anything was relayed. Only a request the replica cannot have
   * started is retried: one that reached it may be running there still, and must not run twice.
   */
  #failed(error: unknown): Response | undefined {
    const exchange = this.outgoing.exchange;
    if (exchange.abort.signal.aborted) {
      this.outcome = ABORTED;
      return exchange.aborted();
    }
    const detail = error instanceof Error ? error.message : String(error);
    if (error instanceof UpstreamError && error.unprocessed) return this.#retry(detail);
    const reason = `${this.backend.id}: ${detail}`;
    this.outcome = { ok: false, error: reason };
    if (error instanceof UpstreamError && error.kind === "first_byte_timeout") {
      this.outcome.timedOut = true;
      return exchange.refuse(
        504,
        `The backend ${this.backend.id} sent no answer in time (${detail}); retry the request`,
        { code: "upstream_timeout", reason },
      );
    }
    return exchange.refuse(
      502,
      `The backend ${this.backend.id} failed on this request (${detail}); it was not retried on another backend because it may have run it; retry the request`,
      { code: "bad_gateway", reason },
    );
  }
}

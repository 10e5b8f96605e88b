/** One client request on its way through the gateway: its record, its abort and timeout, and its error answers. */
import { type ErrorOptions, errorResponse } from "../errors.ts";
import { type RequestRecord, startRecord } from "../records.ts";
import type { Deadline } from "./deadlines.ts";
import type { BodyTap } from "./relay.ts";
import type { ForwardContext } from "./forward.ts";
import { principalOf } from "../auth/principal.ts";

/** Options of {@linkcode Exchange}. */
export interface ExchangeOptions {
  /** The OpenAI route, e.g. `/v1/chat/completions`. */
  endpoint: string;
  /** The gateway's hot-path dependencies. */
  context: ForwardContext;
}

/** Options of {@linkcode Exchange.refuse}: OpenAI's error fields, a Retry-After and the reason recorded. */
export interface RefuseOptions extends Omit<ErrorOptions, "headers"> {
  /** The Retry-After header's value. */
  retryAfter?: string;
  /** What the record says went wrong. @default the message */
  reason?: string;
}

/** `ms` rounded to microseconds, as records keep times. */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/**
 * A request from arrival to its record. Every way it ends goes through {@linkcode finish}, which
 * also stops its timeout and its disconnect watch, so none of them is left behind by a throw.
 */
export class Exchange {
  /** The hot path's dependencies. */
  readonly context: ForwardContext;
  /** What the request's record says; written out by {@linkcode finish}. */
  readonly record: RequestRecord;
  /** `performance.now()` when the request arrived. */
  readonly startedAt: number;
  /** Aborts the upstream call: with `"client"` on a disconnect, `"timeout"` at `proxy.request_timeout`. */
  readonly abort: AbortController = new AbortController();
  /** The failure the last retried attempt met, for the answer when no backend is left. */
  lastError = "";
  /** Headers every answer to this request carries besides the gateway's own (the rate limits'). */
  extraHeaders: [string, string][] | undefined;
  /** Called with the record each time the request finishes, after it is written (once but for a bug). */
  onFinish: ((record: RequestRecord) => void)[] | undefined;
  /** Whether the answer's body is the relay's stream (not one read whole); set as it is made. */
  relaysBody = false;
  /** Handed the relayed body's chunks, when set before the relay's first read. */
  bodyTap: BodyTap | undefined;
  #signal: AbortSignal;
  #deadline: Deadline | undefined;
  #onClientAbort = () => this.abort.abort("client");

  /**
   * @param request the client's request
   * @param options its route and the gateway's dependencies
   */
  constructor(request: Request, options: ExchangeOptions) {
    this.startedAt = performance.now();
    this.context = options.context;
    this.#signal = request.signal;
    this.record = startRecord(request, {
      requestId: request.headers.get("x-request-id") || crypto.randomUUID(),
      endpoint: options.endpoint,
      startedAtMs: Date.now(),
      names: options.context.headers,
    });
    // Once auth is on, the client is who the credentials say, not what a header claims.
    const principal = principalOf(request);
    if (principal !== undefined && !principal.admin) this.record.clientId = principal.clientId;
  }

  /** Starts the request timeout and the client-disconnect watch; call once, when the request is routed. */
  arm(): void {
    this.#signal.addEventListener("abort", this.#onClientAbort, { once: true });
    this.#deadline = this.context.deadlines.add(
      this.context.proxy.request_timeout * 1000,
      () => this.abort.abort("timeout"),
    );
  }

  /** Ends the request with `status`: stops its timeout and disconnect watch and writes its record. */
  finish(status: number, error?: string): void {
    if (this.#deadline !== undefined) {
      this.context.deadlines.remove(this.#deadline);
      this.#signal.removeEventListener("abort", this.#onClientAbort);
      this.#deadline = undefined;
    }
    const record = this.record;
    record.status = status;
    record.error = error;
    record.totalMs = roundMs(performance.now() - this.startedAt);
    if (record.gatewayMs === 0) record.gatewayMs = record.totalMs;
    this.context.records.add(record);
    if (this.onFinish !== undefined) {
      for (const hook of this.onFinish) hook(record);
    }
  }

  /** Ends the request with an OpenAI-shaped error answer; every error is recorded, those before routing too. */
  refuse(status: number, message: string, options: RefuseOptions = {}): Response {
    if (typeof options.code === "string") this.record.errorCode = options.code;
    this.finish(status, options.reason ?? message);
    const headers: Record<string, string> = { "x-request-id": this.record.requestId };
    if (options.retryAfter !== undefined) headers["retry-after"] = options.retryAfter;
    if (this.extraHeaders !== undefined) {
      for (const [name, value] of this.extraHeaders) headers[name] = value;
    }
    return errorResponse(status, message, {
      ...(options.type === undefined ? {} : { type: options.type }),
      param: options.param ?? null,
      code: options.code ?? null,
      headers,
    });
  }

  /** The answer once the client left (499) or the request timed out (504) before anything was relayed. */
  aborted(): Response {
    if (this.abort.signal.reason === "timeout") {
      return this.refuse(
        504,
        `The request took longer than ${this.context.proxy.request_timeout} s; retry or raise proxy.request_timeout`,
        { code: "request_timeout", reason: "request timeout" },
      );
    }
    if (this.abort.signal.reason === "cancel") {
      return this.refuse(499, "The turn was cancelled before the backend answered", {
        code: "turn_cancelled",
        reason: "turn cancelled",
      });
    }
    return this.refuse(499, "The client closed the request", {
      reason: "client closed the request",
    });
  }
}

/**
 * A lean HTTP/1.1 client for the hot path: pooled keep-alive TCP connections to replicas, one write
 * per request, responses read straight off the socket (Content-Length, chunked or until close).
 * It costs a fraction of `fetch` per request; `https:` upstreams go through `fetch` instead.
 */

import { BodyReader } from "./body.ts";
import {
  abortError,
  connectUpstream,
  LINE_LIMIT_BYTES,
  type UpstreamConnection,
} from "./connection.ts";
import { fetchUpstream } from "./fetch.ts";
import { bodyFraming, headEnd, parseResponseHead, type ResponseHead } from "./head.ts";

/** One request to an upstream. */
export interface UpstreamRequest {
  /** HTTP method. */
  method: string;
  /** Base URL of the replica, e.g. `http://127.0.0.1:5901` (a path prefix is kept). */
  baseUrl: string;
  /** Path appended to the base URL, e.g. `/v1/chat/completions`. */
  path: string;
  /** Header pairs to send; `host` and `content-length` are added. */
  headers: Iterable<[string, string]>;
  /** The body bytes. */
  body: Uint8Array;
  /** Aborting it closes the connection, which tells the replica to stop. */
  signal: AbortSignal;
}

/** An upstream answer whose body is read on demand. */
export interface UpstreamResponse {
  status: number;
  /** Response header pairs (lower-case names), without hop-by-hop ones, Content-Length and Transfer-Encoding. */
  headers: [string, string][];
  /** The Content-Type header's value, if any. */
  contentType: string | undefined;
  /** The body's length when the upstream declared it. */
  contentLength: number | undefined;
  /** The next piece of the body, or null at its end. */
  read(): Promise<Uint8Array | null>;
  /** The whole body. */
  bytes(): Promise<Uint8Array<ArrayBuffer>>;
  /** Stops reading and closes the connection. */
  cancel(): void;
}

/** Options of {@linkcode UpstreamClient}. */
export interface UpstreamClientOptions {
  /** Idle connections kept per upstream. @default 256 */
  maxIdlePerHost?: number;
  /** An idle connection older than this is not reused (servers close idle ones; uvicorn after 5 s), in ms. @default 4000 */
  idleMs?: number;
}

const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");

interface Origin {
  hostname: string;
  port: number;
  host: string;
  prefix: string;
  key: string;
}

/** Thrown when a reused connection turned out to be closed before any answer came: safe to resend. */
class StaleConnectionError extends Error {}

/** The pooled HTTP/1.1 client the gateway forwards with. */
export class UpstreamClient {
  #idle = new Map<string, UpstreamConnection[]>();
  #origins = new Map<string, Origin>();
  #maxIdle: number;
  #idleMs: number;
  #closed = false;

  /** @param options pool settings */
  constructor(options: UpstreamClientOptions = {}) {
    this.#maxIdle = options.maxIdlePerHost ?? 256;
    this.#idleMs = options.idleMs ?? 4_000;
  }

  /** Sends `request` and resolves once the status line and headers have arrived. */
  async request(request: UpstreamRequest): Promise<UpstreamResponse> {
    if (request.signal.aborted) throw abortError(request.signal);
    if (!request.baseUrl.startsWith("http://")) return await fetchUpstream(request);
    const origin = this.#origin(request.baseUrl);
    let head =
      `${request.method} ${origin.prefix}${request.path} HTTP/1.1\r\nhost: ${origin.host}\r\n`;
    for (const [name, value] of request.headers) {
      if (name === "host" || name === "content-length" || name === "connection") continue;
      head += `${name}: ${value}\r\n`;
    }
    head += `content-length: ${request.body.byteLength}\r\n\r\n`;
    const headBytes = encoder.encode(head);
    const message = new Uint8Array(headBytes.byteLength + request.body.byteLength);
    message.set(headBytes);
    message.set(request.body, headBytes.byteLength);
    // A pooled connection may have been closed by the server meanwhile: then resend on a new one.
    for (let attempt = 0;; attempt++) {
      const reused = attempt === 0 ? this.#take(origin) : undefined;
      const connection = reused ??
        await connectUpstream(origin.hostname, origin.port, { signal: request.signal });
      try {
        return await this.#exchange(connection, origin, {
          message,
          method: request.method,
          signal: request.signal,
          reused: reused !== undefined,
        });
      } catch (error) {
        connection.close();
        if (error instanceof StaleConnectionError && !request.signal.aborted) continue;
        if (request.signal.aborted) throw abortError(request.signal);
        throw error;
      }
    }
  }

  /** Closes every idle connection; requests in flight finish on theirs. */
  close(): void {
    this.#closed = true;
    for (const list of this.#idle.values()) for (const c of list) c.close();
    this.#idle.clear();
  }

  #origin(baseUrl: string): Origin {
    let origin = this.#origins.get(baseUrl);
    if (!origin) {
      const url = new URL(baseUrl);
      const port = url.port === "" ? 80 : Number(url.port);
      origin = {
        hostname: url.hostname.replace(/^\[|\]$/g, ""),
        port,
        host: url.host,
        prefix: url.pathname.replace(/\/+$/, ""),
        key: `${url.hostname}:${port}`,
      };
      this.#origins.set(baseUrl, origin);
    }
    return origin;
  }

  #take(origin: Origin): UpstreamConnection | undefined {
    const list = this.#idle.get(origin.key);
    const now = performance.now();
    while (list && list.length > 0) {
      const c = list.pop()!;
      if (!c.closed && now - c.idleSince < this.#idleMs) return c;
      c.close();
    }
    return undefined;
  }

  #release(origin: Origin, connection: UpstreamConnection): void {
    if (this.#closed || connection.closed || connection.buffered !== 0) {
      connection.close();
      return;
    }
    connection.start = 0;
    connection.end = 0;
    connection.idleSince = performance.now();
    let list = this.#idle.get(origin.key);
    if (!list) this.#idle.set(origin.key, list = []);
    if (list.length >= this.#maxIdle) connection.close();
    else list.push(connection);
  }

  /** Writes the request and reads the response head; the body is read on demand afterwards. */
  async #exchange(
    connection: UpstreamConnection,
    origin: Origin,
    options: { message: Uint8Array; method: string; signal: AbortSignal; reused: boolean },
  ): Promise<UpstreamResponse> {
    const { signal, reused } = options;
    const onAbort = () => connection.close();
    signal.addEventListener("abort", onAbort, { once: true });
    let handedOver = false;
    try {
      try {
        await connection.writeAll(options.message);
      } catch (error) {
        if (reused) throw new StaleConnectionError(String(error));
        throw error;
      }
      // Informational answers (100 Continue, 103 Early Hints) precede the real one: skip them.
      let head = await readHead(connection, reused && !signal.aborted);
      while (head.status < 200) head = await readHead(connection, false);
      const reader = new BodyReader(connection, {
        framing: bodyFraming(head, options.method),
        length: head.contentLength ?? 0,
        onDone: (reusable) => {
          signal.removeEventListener("abort", onAbort);
          if (reusable && head.keepAlive) this.#release(origin, connection);
          else connection.close();
        },
        signal,
      });
      handedOver = true;
      return {
        status: head.status,
        headers: head.headers,
        contentType: head.contentType,
        contentLength: head.chunked ? undefined : head.contentLength,
        read: () => reader.read(),
        bytes: () => reader.bytes(),
        cancel: () => reader.cancel(),
      };
    } finally {
      if (!handedOver) signal.removeEventListener("abort", onAbort);
    }
  }
}

/** Reads and parses one response head; `mayBeStale` turns a close before any byte into a StaleConnectionError. */
async function readHead(
  connection: UpstreamConnection,
  mayBeStale: boolean,
): Promise<ResponseHead> {
  let end: number;
  while ((end = headEnd(connection.buf, connection.start, connection.end)) < 0) {
    if (connection.buffered > LINE_LIMIT_BYTES) {
      throw new Error("Upstream response headers are too large");
    }
    let more: boolean;
    try {
      more = await connection.fill();
    } catch (error) {
      if (mayBeStale && connection.buffered === 0) throw new StaleConnectionError(String(error));
      throw error;
    }
    if (!more) {
      if (mayBeStale && connection.buffered === 0) {
        throw new StaleConnectionError("closed before answering");
      }
      throw new Error("Upstream closed the connection before its response headers");
    }
  }
  const text = latin1.decode(connection.buf.subarray(connection.start, end - 4));
  connection.start = end;
  return parseResponseHead(text);
}

/**
 * A lean HTTP/1.1 transport for the hot path: pooled keep-alive TCP connections to replicas, one
 * write per request, responses read straight off the socket (Content-Length, chunked or until close).
 */

import { BodyReader } from "./body.ts";
import {
  abortError,
  connectUpstream,
  LINE_LIMIT_BYTES,
  type UpstreamConnection,
} from "./connection.ts";
import { UpstreamError } from "./errors.ts";
import { bodyFraming, headEnd, parseResponseHead, type ResponseHead } from "./head.ts";
import { IdlePool } from "./pool.ts";
import type {
  TransportOptions,
  UpstreamRequest,
  UpstreamResponse,
  UpstreamTransport,
} from "./types.ts";

/** Informational answers (100 Continue, 103 Early Hints) skipped before the real one, at most. */
const MAX_INFORMATIONAL = 8;

const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");

interface Origin {
  hostname: string;
  port: number;
  host: string;
  prefix: string;
  key: string;
}

/** Parsed base URLs kept, past which the cache starts afresh. */
const MAX_ORIGINS = 4096;

/** What one exchange on a connection needs. */
interface Exchange {
  message: Uint8Array;
  method: string;
  signal: AbortSignal;
  firstByteTimeoutMs: number | null;
}

/** The custom pooled HTTP/1.1 transport; `http:` replicas only. */
export class Http1Transport implements UpstreamTransport {
  #origins = new Map<string, Origin>();
  #pool: IdlePool;
  #options: TransportOptions;

  /** @param options timeouts and pool limits */
  constructor(options: TransportOptions) {
    this.#options = options;
    this.#pool = new IdlePool(options);
  }

  /** Sends `request` and resolves once the status line and headers have arrived. */
  async request(request: UpstreamRequest): Promise<UpstreamResponse> {
    const { signal } = request;
    if (signal.aborted) throw abortError(signal);
    const origin = this.#origin(request.baseUrl);
    const exchange: Exchange = {
      message: requestBytes(request, origin),
      method: request.method,
      signal,
      firstByteTimeoutMs: request.firstByteTimeoutMs === undefined
        ? this.#options.firstByteTimeoutMs
        : request.firstByteTimeoutMs,
    };
    const reused = this.#pool.take(origin.key);
    if (reused) {
      try {
        return await this.#exchange(reused, origin, exchange);
      } catch (error) {
        // Not one byte reached a connection the server had closed: safe to send on a fresh one.
        if (!(error instanceof UpstreamError && error.kind === "closed_before_write")) throw error;
      }
    }
    const fresh = await connectUpstream(origin.hostname, origin.port, {
      signal,
      timeoutMs: this.#options.connectTimeoutMs,
    });
    return await this.#exchange(fresh, origin, exchange);
  }

  /** Closes every idle connection; requests in flight finish on theirs. */
  close(): void {
    this.#pool.close();
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
      // A cache, not a registry: replicas registered on ever new ports must not grow it forever.
      if (this.#origins.size >= MAX_ORIGINS) this.#origins.clear();
      this.#origins.set(baseUrl, origin);
    }
    return origin;
  }

  /** Writes the request and reads the response head; the body is read on demand afterwards. */
  async #exchange(
    connection: UpstreamConnection,
    origin: Origin,
    exchange: Exchange,
  ): Promise<UpstreamResponse> {
    const { signal } = exchange;
    const onAbort = () => connection.close();
    signal.addEventListener("abort", onAbort, { once: true });
    // An abort while the connection was being made or taken must still stop this request.
    if (signal.aborted) onAbort();
    let timedOut = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await connection.writeAll(exchange.message);
      if (exchange.firstByteTimeoutMs !== null) {
        timer = setTimeout(() => {
          timedOut = true;
          connection.close();
        }, exchange.firstByteTimeoutMs);
      }
      const head = await readFinalHead(connection);
      clearTimeout(timer);
      const reader = new BodyReader(connection, {
        framing: bodyFraming(head, exchange.method),
        length: head.contentLength ?? 0,
        onDone: (reusable) => {
          signal.removeEventListener("abort", onAbort);
          if (reusable && head.keepAlive) this.#pool.put(origin.key, connection);
          else connection.close();
        },
        signal,
      });
      return {
        status: head.status,
        headers: head.headers,
        contentType: head.contentType,
        contentLength: head.contentLength,
        read: () => reader.read(),
        bytes: () => reader.bytes(),
        cancel: () => reader.cancel(),
      };
    } catch (error) {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      connection.close();
      if (signal.aborted) throw abortError(signal);
      if (timedOut) {
        throw new UpstreamError(
          "first_byte_timeout",
          `Upstream sent no response head within ${exchange.firstByteTimeoutMs} ms`,
        );
      }
      throw error;
    }
  }
}

/** The request line, headers and body in one buffer: one socket write per request. */
function requestBytes(request: UpstreamRequest, origin: Origin): Uint8Array {
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
  return message;
}

/** Reads heads until the final one, skipping a bounded number of informational answers. */
async function readFinalHead(connection: UpstreamConnection): Promise<ResponseHead> {
  for (let informational = 0;; informational++) {
    const head = await readHead(connection);
    if (head.status >= 200) return head;
    if (head.status === 101 || informational === MAX_INFORMATIONAL) {
      throw new UpstreamError(
        "protocol",
        head.status === 101
          ? "Upstream switched protocols, which a relayed request cannot follow"
          : `Upstream sent more than ${MAX_INFORMATIONAL} informational answers`,
      );
    }
  }
}

/** Reads and parses one response head. */
async function readHead(connection: UpstreamConnection): Promise<ResponseHead> {
  let end: number;
  while ((end = headEnd(connection.buf, connection.start, connection.end)) < 0) {
    if (connection.buffered > LINE_LIMIT_BYTES) {
      throw new UpstreamError("protocol", "Upstream response headers are too large");
    }
    let more: boolean;
    try {
      more = await connection.fill();
    } catch (error) {
      throw new UpstreamError(
        "closed_after_write",
        `Upstream connection failed before its response headers: ${error}`,
        { cause: error },
      );
    }
    if (!more) {
      throw new UpstreamError(
        "closed_after_write",
        "Upstream closed the connection before its response headers",
      );
    }
  }
  const text = latin1.decode(connection.buf.subarray(connection.start, end - 4));
  connection.start = end;
  return parseResponseHead(text);
}

/** The shapes every upstream transport shares: one request, its answer, and the timeouts and pool limits it obeys. */

import type { UPSTREAM_TRANSPORTS } from "../../config/mod.ts";

/** The name of a transport `http:` requests go with (`proxy.upstream_client`); `https:` ones always go through `fetch`. */
export type UpstreamTransportName = typeof UPSTREAM_TRANSPORTS[number];

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
  /**
   * This request's first-byte timeout instead of the client's, in ms, or null for none: a
   * streamed request's head comes at once, a non-streamed one's only after the whole generation,
   * which the caller's own deadline bounds.
   */
  firstByteTimeoutMs?: number | null;
}

/** An upstream answer whose body is read on demand. */
export interface UpstreamResponse {
  /** The status code. */
  status: number;
  /** End-to-end response header pairs (lower-case names): no hop-by-hop ones, none named in `Connection`, no Content-Length. */
  headers: [string, string][];
  /** The Content-Type header's value, if any. */
  contentType: string | undefined;
  /** The body's length when the upstream declared it. */
  contentLength: number | undefined;
  /** The next piece of the body, or null at its end. */
  read(): Promise<Uint8Array | null>;
  /** The whole body. */
  bytes(): Promise<Uint8Array<ArrayBuffer>>;
  /** Stops reading and closes the connection; a no-op once the body has ended. */
  cancel(): void;
}

/** Timeouts and pool limits of a transport, in ms and connections. */
export interface TransportOptions {
  /** How long a TCP connect may take. */
  connectTimeoutMs: number;
  /** How long from the request written to the response head. */
  firstByteTimeoutMs: number;
  /** How long an idle keep-alive connection is kept. */
  idleTimeoutMs: number;
  /** Idle connections kept per replica. */
  maxIdlePerOrigin: number;
}

/** A way of sending requests upstream: the custom HTTP/1.1 client or `fetch`. */
export interface UpstreamTransport {
  /**
   * Sends `request`; resolves once the status line and headers have arrived. Rejects with an
   * UpstreamError for any failure before the head, or an AbortError once the signal aborted.
   */
  request(request: UpstreamRequest): Promise<UpstreamResponse>;
  /** Closes idle connections; requests in flight finish on theirs. */
  close(): void;
}

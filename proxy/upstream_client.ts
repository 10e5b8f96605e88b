/**
 * A lean HTTP/1.1 client for the hot path: pooled keep-alive TCP connections to replicas, one write
 * per request, responses read straight off the socket (Content-Length, chunked or until close).
 * It costs a fraction of `fetch` per request; `https:` upstreams go through `fetch` instead.
 */

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

const CR = 13;
const LF = 10;
const HEADER_LIMIT = 64 * 1024;
const DROP_RESPONSE = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-length",
  "proxy-connection",
  "upgrade",
]);
const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");

interface Origin {
  hostname: string;
  port: number;
  host: string;
  prefix: string;
  key: string;
}

/** A pooled connection with the bytes read past the last response. */
class Connection {
  readonly conn: Deno.TcpConn;
  buf = new Uint8Array(16 * 1024);
  start = 0;
  end = 0;
  idleSince = 0;
  closed = false;

  constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  /** Reads more bytes into the buffer (growing it when full); false at end of stream. */
  async fill(): Promise<boolean> {
    if (this.start > 0 && this.start === this.end) {
      this.start = 0;
      this.end = 0;
    }
    if (this.end === this.buf.length) {
      if (this.start > 0) {
        this.buf.copyWithin(0, this.start, this.end);
        this.end -= this.start;
        this.start = 0;
      } else {
        const grown = new Uint8Array(this.buf.length * 2);
        grown.set(this.buf);
        this.buf = grown;
      }
    }
    const n = await this.conn.read(this.buf.subarray(this.end));
    if (n === null) return false;
    this.end += n;
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch {
      // Already closed by the other side.
    }
  }
}

/** Thrown when a reused connection turned out to be closed before any answer came: safe to resend. */
class StaleConnectionError extends Error {}

function headerEnd(buf: Uint8Array, from: number, to: number): number {
  for (let i = Math.max(from, 3); i < to; i++) {
    if (buf[i] === LF && buf[i - 1] === CR && buf[i - 2] === LF && buf[i - 3] === CR) return i + 1;
  }
  return -1;
}

/** The pooled HTTP/1.1 client the gateway forwards with. */
export class UpstreamClient {
  #idle = new Map<string, Connection[]>();
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
    if (!request.baseUrl.startsWith("http://")) return await viaFetch(request);
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
      const connection = reused ?? await this.#connect(origin, request.signal);
      try {
        return await this.#exchange(
          connection,
          origin,
          message,
          request.signal,
          reused !== undefined,
        );
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

  #take(origin: Origin): Connection | undefined {
    const list = this.#idle.get(origin.key);
    const now = performance.now();
    while (list && list.length > 0) {
      const c = list.pop()!;
      if (!c.closed && now - c.idleSince < this.#idleMs) return c;
      c.close();
    }
    return undefined;
  }

  #release(origin: Origin, connection: Connection): void {
    if (this.#closed || connection.closed || connection.start !== connection.end) {
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

  async #connect(origin: Origin, signal: AbortSignal): Promise<Connection> {
    const conn = await Deno.connect({
      hostname: origin.hostname,
      port: origin.port,
      transport: "tcp",
    });
    conn.setNoDelay(true);
    const connection = new Connection(conn);
    if (signal.aborted) {
      connection.close();
      throw abortError(signal);
    }
    return connection;
  }

  async #exchange(
    connection: Connection,
    origin: Origin,
    message: Uint8Array,
    signal: AbortSignal,
    reused: boolean,
  ): Promise<UpstreamResponse> {
    const onAbort = () => connection.close();
    signal.addEventListener("abort", onAbort, { once: true });
    let handedOver = false;
    try {
      try {
        await connection.conn.write(message);
      } catch (error) {
        if (reused) throw new StaleConnectionError(String(error));
        throw error;
      }
      let end = -1;
      while ((end = headerEnd(connection.buf, connection.start, connection.end)) < 0) {
        if (connection.end - connection.start > HEADER_LIMIT) {
          throw new Error("Upstream response headers are too large");
        }
        let more: boolean;
        try {
          more = await connection.fill();
        } catch (error) {
          if (reused && connection.end === connection.start && !signal.aborted) {
            throw new StaleConnectionError(String(error));
          }
          throw error;
        }
        if (!more) {
          if (reused && connection.end === connection.start) {
            throw new StaleConnectionError("closed before answering");
          }
          throw new Error("Upstream closed the connection before its response headers");
        }
      }
      const headText = latin1.decode(connection.buf.subarray(connection.start, end - 4));
      connection.start = end;
      const lines = headText.split("\r\n");
      const statusLine = lines[0] ?? "";
      const status = Number(statusLine.slice(9, 12));
      if (!statusLine.startsWith("HTTP/1.") || !(status >= 100 && status < 600)) {
        throw new Error(`Upstream sent a malformed status line "${statusLine.slice(0, 80)}"`);
      }
      const pairs: [string, string][] = [];
      let contentLength: number | undefined;
      let chunked = false;
      let keepAlive = statusLine.startsWith("HTTP/1.1");
      let contentType: string | undefined;
      for (let i = 1; i < lines.length; i++) {
        const line = lines[i]!;
        const colon = line.indexOf(":");
        if (colon <= 0) continue;
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        if (name === "content-length") contentLength = Number(value);
        else if (name === "transfer-encoding") chunked = value.toLowerCase().includes("chunked");
        else if (name === "connection") keepAlive = !value.toLowerCase().includes("close");
        else if (name === "content-type") contentType = value;
        if (!DROP_RESPONSE.has(name)) pairs.push([name, value]);
      }
      if (status < 200) {
        throw new Error(`Upstream sent an unexpected informational status ${status}`);
      }
      const noBody = status === 204 || status === 304;
      const body = new BodyReader(connection, {
        mode: noBody
          ? "length"
          : chunked
          ? "chunked"
          : contentLength !== undefined
          ? "length"
          : "close",
        length: noBody ? 0 : contentLength ?? 0,
        onDone: (reusable) => {
          signal.removeEventListener("abort", onAbort);
          if (reusable && keepAlive) this.#release(origin, connection);
          else connection.close();
        },
        signal,
      });
      handedOver = true;
      return {
        status,
        headers: pairs,
        contentType,
        contentLength: chunked ? undefined : contentLength,
        read: () => body.read(),
        bytes: () => body.bytes(),
        cancel: () => body.cancel(),
      };
    } finally {
      if (!handedOver) signal.removeEventListener("abort", onAbort);
    }
  }
}

/** Reads one response body off a connection, de-chunking as it goes. */
class BodyReader {
  #c: Connection;
  #mode: "length" | "chunked" | "close";
  #left: number;
  #chunkLeft = 0;
  #state: "size" | "data" | "data_crlf" | "trailers" | "done" = "size";
  #onDone: (reusable: boolean) => void;
  #signal: AbortSignal;
  #finished = false;

  constructor(
    c: Connection,
    options: {
      mode: "length" | "chunked" | "close";
      length: number;
      onDone(reusable: boolean): void;
      signal: AbortSignal;
    },
  ) {
    this.#c = c;
    this.#mode = options.mode;
    this.#left = options.length;
    this.#onDone = options.onDone;
    this.#signal = options.signal;
    if (this.#mode === "length" && this.#left === 0) this.#finish(true);
  }

  #finish(reusable: boolean): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#state = "done";
    this.#onDone(reusable);
  }

  cancel(): void {
    this.#c.close();
    this.#finish(false);
  }

  async #more(): Promise<void> {
    let ok: boolean;
    try {
      ok = await this.#c.fill();
    } catch (error) {
      this.#finish(false);
      if (this.#signal.aborted) throw abortError(this.#signal);
      throw error;
    }
    if (!ok) {
      if (this.#mode === "close") {
        this.#finish(false);
        return;
      }
      this.#finish(false);
      throw new Error("Upstream closed the connection in the middle of the response body");
    }
  }

  /** The next piece of the body, or null at its end. */
  async read(): Promise<Uint8Array | null> {
    const c = this.#c;
    for (;;) {
      if (this.#finished) {
        if (this.#mode === "close" && c.end > c.start) {
          const out = c.buf.slice(c.start, c.end);
          c.start = c.end;
          return out;
        }
        return null;
      }
      if (this.#mode === "length") {
        if (c.end > c.start) {
          const n = Math.min(this.#left, c.end - c.start);
          const out = c.buf.slice(c.start, c.start + n);
          c.start += n;
          this.#left -= n;
          if (this.#left === 0) this.#finish(true);
          return out;
        }
        await this.#more();
        continue;
      }
      if (this.#mode === "close") {
        if (c.end > c.start) {
          const out = c.buf.slice(c.start, c.end);
          c.start = c.end;
          return out;
        }
        await this.#more();
        continue;
      }
      // Everything already buffered goes out as one piece (several small SSE events read in
      // one go cost one write downstream, not one each); nothing waits for more bytes.
      const pieces: Uint8Array[] = [];
      for (;;) {
        const piece = this.#chunkStep();
        if (piece === "need" || this.#finished) break;
        if (piece !== undefined) pieces.push(piece);
      }
      if (pieces.length === 1) return pieces[0]!.slice();
      if (pieces.length > 1) return concat(pieces);
      if (this.#finished) continue;
      await this.#more();
    }
  }

  /**
   * Advances the chunked decoder over buffered bytes: data (a view into the buffer, valid until
   * the next read), "need" for more bytes, or undefined to go on.
   */
  #chunkStep(): Uint8Array | "need" | undefined {
    const c = this.#c;
    switch (this.#state) {
      case "size": {
        const lf = c.buf.subarray(c.start, c.end).indexOf(LF);
        if (lf < 0) return "need";
        const line = latin1.decode(c.buf.subarray(c.start, c.start + lf)).trim();
        c.start += lf + 1;
        const size = parseInt(line.split(";")[0] ?? "", 16);
        if (!Number.isFinite(size) || size < 0) {
          throw new Error(`Upstream sent a malformed chunk size "${line.slice(0, 40)}"`);
        }
        if (size === 0) this.#state = "trailers";
        else {
          this.#chunkLeft = size;
          this.#state = "data";
        }
        return undefined;
      }
      case "data": {
        if (c.end === c.start) return "need";
        const n = Math.min(this.#chunkLeft, c.end - c.start);
        // A view into the connection's buffer: read() copies it out before the buffer is reused.
        const out = c.buf.subarray(c.start, c.start + n);
        c.start += n;
        this.#chunkLeft -= n;
        if (this.#chunkLeft === 0) this.#state = "data_crlf";
        return out;
      }
      case "data_crlf": {
        const lf = c.buf.subarray(c.start, c.end).indexOf(LF);
        if (lf < 0) return "need";
        c.start += lf + 1;
        this.#state = "size";
        return undefined;
      }
      case "trailers": {
        const lf = c.buf.subarray(c.start, c.end).indexOf(LF);
        if (lf < 0) return "need";
        const empty = lf === 0 || (lf === 1 && c.buf[c.start] === CR);
        c.start += lf + 1;
        if (empty) this.#finish(true);
        return undefined;
      }
      case "done":
        return undefined;
    }
  }

  /** The whole body. */
  async bytes(): Promise<Uint8Array<ArrayBuffer>> {
    const parts: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const piece = await this.read();
      if (piece === null) break;
      parts.push(piece);
      size += piece.byteLength;
    }
    if (parts.length === 1) return parts[0] as Uint8Array<ArrayBuffer>;
    const out = new Uint8Array(size);
    let at = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.byteLength;
    }
    return out;
  }
}

function concat(pieces: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const piece of pieces) size += piece.byteLength;
  const out = new Uint8Array(size);
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.byteLength;
  }
  return out;
}

function abortError(signal: AbortSignal): Error {
  const reason = signal.reason;
  return new DOMException(
    typeof reason === "string" ? `Aborted: ${reason}` : "Aborted",
    "AbortError",
  );
}

/** `https:` upstreams: the same interface over `fetch`. */
async function viaFetch(request: UpstreamRequest): Promise<UpstreamResponse> {
  const res = await fetch(request.baseUrl.replace(/\/+$/, "") + request.path, {
    method: request.method,
    headers: [...request.headers],
    body: request.body as Uint8Array<ArrayBuffer>,
    signal: request.signal,
  });
  const headers: [string, string][] = [];
  for (const pair of res.headers) {
    if (!DROP_RESPONSE.has(pair[0]) && pair[0] !== "content-encoding") headers.push(pair);
  }
  const reader = res.body?.getReader();
  const length = res.headers.get("content-length");
  return {
    status: res.status,
    headers,
    contentType: res.headers.get("content-type") ?? undefined,
    contentLength: length === null ? undefined : Number(length),
    async read() {
      if (!reader) return null;
      const { done, value } = await reader.read();
      return done ? null : value;
    },
    async bytes() {
      return new Uint8Array(await res.arrayBuffer());
    },
    cancel() {
      reader?.cancel().catch(() => {});
    },
  };
}

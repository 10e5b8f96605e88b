/** One keep-alive TCP connection to a replica, with the bytes read past the current response. */

/** Reads larger than this without a line end (headers, chunk-size or trailer lines) are refused, in bytes. */
export const LINE_LIMIT_BYTES = 64 * 1024;

/** A TCP connection and its read buffer; `start..end` are the bytes read but not consumed yet. */
export class UpstreamConnection {
  /** The socket. */
  readonly conn: Deno.TcpConn;
  /** Read buffer; grows only while one line is longer than it. */
  buf: Uint8Array = new Uint8Array(16 * 1024);
  /** First unconsumed byte. */
  start = 0;
  /** One past the last byte read. */
  end = 0;
  /** `performance.now()` when it went back to the pool. */
  idleSince = 0;
  #closed = false;

  /** @param conn a connected socket */
  constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  /** Whether {@linkcode close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Unconsumed bytes buffered. */
  get buffered(): number {
    return this.end - this.start;
  }

  /** Reads more bytes into the buffer (growing it when full); false at end of stream. */
  async fill(): Promise<boolean> {
    if (this.start === this.end) {
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

  /** Writes all of `bytes` (a socket write may take only part of them). */
  async writeAll(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.byteLength) at += await this.conn.write(bytes.subarray(at));
  }

  /** Closes the socket; safe to call more than once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // Already closed by the other side.
    }
  }
}

/** Options of {@linkcode connectUpstream}. */
export interface ConnectOptions {
  /** Aborting it gives up on the connect at once (a dead host could otherwise hold it for minutes). */
  signal: AbortSignal;
}

/** Opens a TCP connection with Nagle off; rejects with an AbortError as soon as `signal` aborts. */
export async function connectUpstream(
  hostname: string,
  port: number,
  options: ConnectOptions,
): Promise<UpstreamConnection> {
  const { signal } = options;
  if (signal.aborted) throw abortError(signal);
  const connecting = Deno.connect({ hostname, port, transport: "tcp" });
  const aborted = Promise.withResolvers<never>();
  const onAbort = () => aborted.reject(abortError(signal));
  signal.addEventListener("abort", onAbort, { once: true });
  let conn: Deno.TcpConn;
  try {
    conn = await Promise.race([connecting, aborted.promise]);
  } catch (error) {
    // A connect that still succeeds after the abort must not leak its socket.
    connecting.then((late) => late.close(), () => {});
    throw error;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  conn.setNoDelay(true);
  return new UpstreamConnection(conn);
}

/** The error a request rejects with once its signal aborted. */
export function abortError(signal: AbortSignal): Error {
  const reason = signal.reason;
  return new DOMException(
    typeof reason === "string" ? `Aborted: ${reason}` : "Aborted",
    "AbortError",
  );
}

/** One keep-alive TCP connection to a replica, with the bytes read past the current response. */
import { UpstreamError } from "./errors.ts";

/** Reads larger than this without a line end (headers, chunk-size or trailer lines) are refused, in bytes. */
export const LINE_LIMIT_BYTES = 64 * 1024;

/**
 * A connection's first read buffer, in bytes: a stream's SSE events (a few hundred bytes a token)
 * fit it, and with a thousand streams open a larger one costs megabytes that hold nothing.
 */
export const INITIAL_READ_BYTES = 4 * 1024;

/** A read that fills the whole buffer doubles it for the next one up to this, in bytes. */
export const MAX_READ_BYTES = 64 * 1024;

/** A TCP connection and its read buffer; `start..end` are the bytes read but not consumed yet. */
export class UpstreamConnection {
  /** The socket. */
  readonly conn: Deno.TcpConn;
  /**
   * Read buffer: grows while one line is longer than it, or (up to MAX_READ_BYTES) after a read
   * filled it, and goes back to INITIAL_READ_BYTES when the connection is parked.
   */
  buf: Uint8Array = new Uint8Array(INITIAL_READ_BYTES);
  /** First unconsumed byte. */
  start = 0;
  /** One past the last byte read. */
  end = 0;
  /** `performance.now()` when it was last parked in the pool. */
  idleSince = 0;
  #closed = false;
  #parked = false;
  /** The last read filled the buffer: a body is arriving faster than one buffer a read. */
  #filled = false;
  /** The read started while parked; the next {@linkcode fill} takes its result. */
  #pending: Promise<number | null> | undefined;

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

  /**
   * Parks an idle connection: a read stays pending, so a byte or a close arriving while idle (a
   * server's 408, its FIN) closes the connection at once and calls `onLost`, instead of being
   * taken for the next request's answer or lingering in CLOSE_WAIT.
   */
  park(onLost: (connection: UpstreamConnection) => void): void {
    this.start = 0;
    this.end = 0;
    // A buffer grown for a large body would sit idle at its size: a parked one is empty anyway.
    if (this.buf.length > INITIAL_READ_BYTES) this.buf = new Uint8Array(INITIAL_READ_BYTES);
    this.#filled = false;
    this.idleSince = performance.now();
    this.#parked = true;
    const lost = () => {
      if (!this.#parked) return;
      this.close();
      onLost(this);
    };
    this.#pending = this.conn.read(this.buf);
    this.#pending.then(lost, lost);
  }

  /**
   * Takes a parked connection for a request; false when it was lost while idle. A server closing
   * in the very instant it is taken still races the request: that is why the pool's idle timeout
   * stays below the servers'.
   */
  unpark(): boolean {
    if (!this.#parked) return false;
    this.#parked = false;
    return true;
  }

  /** Reads more bytes into the buffer (growing it when full); false at end of stream. */
  async fill(): Promise<boolean> {
    const pending = this.#pending;
    let n: number | null;
    if (pending) {
      this.#pending = undefined;
      n = await pending;
    } else {
      if (this.start === this.end) {
        this.start = 0;
        this.end = 0;
        // Empty, so a larger buffer takes nothing to copy.
        if (this.#filled && this.buf.length < MAX_READ_BYTES) {
          this.buf = new Uint8Array(this.buf.length * 2);
        }
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
      const room = this.buf.length - this.end;
      n = await this.conn.read(this.buf.subarray(this.end));
      this.#filled = n === room;
    }
    if (n === null) return false;
    this.end += n;
    return true;
  }

  /**
   * Writes all of `bytes` (a socket write may take only part of them). A failure rejects with an
   * UpstreamError: `closed_before_write` when not one byte went out, else `closed_after_write`.
   */
  async writeAll(bytes: Uint8Array): Promise<void> {
    let at = 0;
    try {
      while (at < bytes.byteLength) at += await this.conn.write(bytes.subarray(at));
    } catch (error) {
      throw new UpstreamError(
        at === 0 ? "closed_before_write" : "closed_after_write",
        `Upstream connection failed while sending the request: ${message(error)}`,
        { cause: error },
      );
    }
  }

  /** Closes the socket; safe to call more than once. */
  close(): void {
    this.#parked = false;
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
  /** Aborting it gives up on the connect at once. */
  signal: AbortSignal;
  /** How long the TCP handshake may take before the replica counts as unreachable, in ms. */
  timeoutMs: number;
}

/**
 * Opens a TCP connection with Nagle off. Rejects with an AbortError as soon as `signal` aborts,
 * else with an UpstreamError (`connect_refused`, `connect_timeout`, `connect_failed`).
 */
export async function connectUpstream(
  hostname: string,
  port: number,
  options: ConnectOptions,
): Promise<UpstreamConnection> {
  const { signal } = options;
  if (signal.aborted) throw abortError(signal);
  const connecting = Deno.connect({ hostname, port, transport: "tcp" });
  const gaveUp = Promise.withResolvers<never>();
  const onAbort = () => gaveUp.reject(abortError(signal));
  signal.addEventListener("abort", onAbort, { once: true });
  const timer = setTimeout(() => {
    gaveUp.reject(
      new UpstreamError(
        "connect_timeout",
        `Upstream ${hostname}:${port} did not accept a connection within ${options.timeoutMs} ms`,
      ),
    );
  }, options.timeoutMs);
  let conn: Deno.TcpConn;
  try {
    conn = await Promise.race([connecting, gaveUp.promise]);
  } catch (error) {
    // A connect that still succeeds after giving up must not leak its socket.
    connecting.then((late) => late.close(), () => {});
    if (error instanceof UpstreamError || signal.aborted) throw error;
    throw new UpstreamError(
      error instanceof Deno.errors.ConnectionRefused ? "connect_refused" : "connect_failed",
      `Upstream ${hostname}:${port} could not be connected to: ${message(error)}`,
      { cause: error },
    );
  } finally {
    clearTimeout(timer);
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

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

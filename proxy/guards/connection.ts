/**
 * The connection guard: accepts the clients' TCP connections itself and relays their bytes to the
 * gateway's Deno.serve on a private endpoint, timing each request head on the way (Deno.serve has
 * no head timeout, so a slow-loris trickling its headers would hold a connection forever).
 */
import { Deadlines } from "../openai/deadlines.ts";
import type { Deadline } from "../openai/deadlines.ts";
import { errorBody } from "../errors.ts";
import { HeadScanner } from "./head_scanner.ts";

/** Bytes read at once from either side of a connection; each connection has one buffer a side. */
const BUFFER_BYTES = 16 * 1024;
/** How long a client may go on sending after the server closed its side, in ms. */
const LINGER_MS = 2_000;

/** Where the guard relays to: Deno.serve's private endpoint. */
export type GuardTarget = Deno.UnixConnectOptions | (Deno.ConnectOptions & { transport?: "tcp" });

/** Options of {@linkcode ConnectionGuard.listen}. */
export interface ConnectionGuardOptions {
  /** Interface the clients connect to. */
  hostname: string;
  /** Port the clients connect to; 0 picks a free one. */
  port: number;
  /** Ms a request head may take to arrive, from the connection's start or its first byte. */
  headerTimeoutMs: number;
  /** Deno.serve's private endpoint. */
  target: GuardTarget;
  /** How often head deadlines are checked, in ms; a head is cut at most this late. @default 100 */
  tickMs?: number;
}

/** The 408 a client whose head did not arrive in time gets, before its connection is closed. */
export function headTimeoutResponse(timeoutMs: number): Uint8Array {
  const body = JSON.stringify(
    errorBody(
      408,
      `The request head did not arrive within ${timeoutMs / 1000} s; send the request at once`,
      { code: "header_timeout" },
    ),
  );
  return new TextEncoder().encode(
    "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n" +
      `content-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/**
 * A TCP listener whose connections are relayed, both ways, to `target` with backpressure; a head
 * that takes longer than `headerTimeoutMs` is answered 408 and its connection closed. Bytes pass
 * unchanged: the guard only scans the client's side ({@linkcode HeadScanner}).
 */
export class ConnectionGuard {
  readonly #listener: Deno.TcpListener;
  readonly #shared: RelayShared;
  readonly #relays = new Set<Relay>();
  readonly #accepting: Promise<void>;
  #closed = false;

  private constructor(listener: Deno.TcpListener, options: ConnectionGuardOptions) {
    this.#listener = listener;
    this.#shared = {
      options,
      deadlines: new Deadlines({ tickMs: options.tickMs ?? 100 }),
      response: headTimeoutResponse(options.headerTimeoutMs),
    };
    this.#accepting = this.#accept();
  }

  /** Listens on `options.hostname`:`options.port` and starts relaying. */
  static listen(options: ConnectionGuardOptions): ConnectionGuard {
    const listener = Deno.listen({ hostname: options.hostname, port: options.port });
    return new ConnectionGuard(listener, options);
  }

  /** Where the clients connect. */
  get addr(): Deno.NetAddr {
    return this.#listener.addr;
  }

  /** Client connections being relayed now. */
  get openConnections(): number {
    return this.#relays.size;
  }

  /** Head deadlines pending now (connections whose head is arriving). */
  get pendingHeads(): number {
    return this.#shared.deadlines.size;
  }

  /** Stops accepting new connections; the open ones go on. */
  stopAccepting(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#listener.close();
  }

  /**
   * Resolves once every open connection whose server side has ended (Deno.serve's shutdown ends
   * them all) has passed its last bytes on to the client, or after `timeoutMs`: what Deno.serve
   * wrote before it closed is still in the relay's socket buffers, and {@linkcode close} would
   * cut it off (a stream's last events, its `data: [DONE]`).
   */
  async flushed(timeoutMs: number = LINGER_MS): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all([...this.#relays].map((relay) => relay.relayed)),
      new Promise((resolve) => timer = setTimeout(resolve, timeoutMs)),
    ]);
    clearTimeout(timer);
  }

  /** Stops accepting and ends every open connection. */
  async close(): Promise<void> {
    this.stopAccepting();
    await this.#accepting;
    const ending = [...this.#relays].map((relay) => relay.end());
    await Promise.all(ending);
    this.#shared.deadlines.clear();
  }

  async #accept(): Promise<void> {
    while (true) {
      let client: Deno.TcpConn;
      try {
        client = await this.#listener.accept();
      } catch (error) {
        if (this.#closed) return;
        // Out of file descriptors and the like: the next accept may succeed.
        if (error instanceof Deno.errors.BadResource) return;
        await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      const relay = new Relay(client, this.#shared);
      this.#relays.add(relay);
      relay.done.then(() => this.#relays.delete(relay));
    }
  }
}

/** What every connection of a guard shares: its options, its deadline wheel, its 408's bytes. */
interface RelayShared {
  options: ConnectionGuardOptions;
  deadlines: Deadlines;
  response: Uint8Array;
}

/** One client connection and its connection to Deno.serve. */
class Relay {
  readonly done: Promise<void>;
  readonly #relayed = Promise.withResolvers<void>();
  readonly #client: Deno.TcpConn;
  readonly #options: ConnectionGuardOptions;
  readonly #deadlines: Deadlines;
  readonly #response: Uint8Array;
  readonly #scanner = new HeadScanner();
  #server: Deno.Conn | undefined;
  #deadline: Deadline | undefined;
  /** The head the deadline is for (its number in the scanner's count). */
  #timedHead = 1;
  /** Whether response bytes went to the client since the timed head began. */
  #answered = false;
  /** Whether a write to the client is under way. */
  #writingDown = false;
  #ended = false;
  /** Whether the head timed out and the 408 is being written: the pumps leave the closing to it. */
  #cutting = false;
  #linger: Deadline | undefined;

  constructor(client: Deno.TcpConn, shared: RelayShared) {
    this.#client = client;
    ({ options: this.#options, deadlines: this.#deadlines, response: this.#response } = shared);
    // The first head is timed from the connection's start.
    this.#deadline = this.#deadlines.add(this.#options.headerTimeoutMs, () => this.#timeOut());
    this.done = this.#run();
  }

  /** Resolves once the server's side has ended and all it sent reached the client, or the relay ended. */
  get relayed(): Promise<void> {
    return this.#relayed.promise;
  }

  /** Closes both sides now. */
  end(): Promise<void> {
    this.#close();
    return this.done;
  }

  async #run(): Promise<void> {
    try {
      this.#server = await Deno.connect(this.#options.target as Deno.ConnectOptions);
    } catch {
      this.#close();
      return;
    }
    if (this.#ended || this.#cutting) {
      closeQuietly(this.#server);
      return;
    }
    const client = this.#client;
    if (this.#server.remoteAddr.transport === "tcp") {
      (this.#server as Deno.TcpConn).setNoDelay(true);
    }
    client.setNoDelay(true);
    await Promise.all([this.#up(client, this.#server), this.#down(this.#server, client)]);
    this.#fail();
  }

  /** Client to server, scanning each chunk for the heads. */
  async #up(client: Deno.TcpConn, server: Deno.Conn): Promise<void> {
    const buffer = new Uint8Array(BUFFER_BYTES);
    const scanner = this.#scanner;
    try {
      while (true) {
        const n = await client.read(buffer);
        if (n === null) break;
        const chunk = buffer.subarray(0, n);
        if (!scanner.opaque) {
          scanner.push(chunk);
          this.#timeHead();
        }
        await writeAll(server, chunk);
      }
      await server.closeWrite();
    } catch {
      this.#fail();
    }
  }

  /** Server to client. */
  async #down(server: Deno.Conn, client: Deno.TcpConn): Promise<void> {
    const buffer = new Uint8Array(BUFFER_BYTES);
    try {
      while (true) {
        const n = await server.read(buffer);
        if (n === null || this.#ended || this.#cutting) break;
        this.#answered = true;
        this.#writingDown = true;
        await writeAll(client, buffer.subarray(0, n));
        this.#writingDown = false;
      }
      if (this.#ended || this.#cutting) return;
      // Deno.serve closed the connection: so does the guard, once the client had time to stop.
      await client.closeWrite();
      this.#relayed.resolve();
      this.#linger = this.#deadlines.add(LINGER_MS, () => this.#close());
    } catch {
      this.#fail();
    }
  }

  /** Keeps the deadline on the head now arriving, if any. */
  #timeHead(): void {
    const scanner = this.#scanner;
    if (scanner.opaque || !scanner.inHead) {
      this.#disarm();
      return;
    }
    if (this.#deadline !== undefined && this.#timedHead === scanner.heads) return;
    // A later head on a kept-alive connection: timed from its first byte, which came now.
    this.#disarm();
    this.#timedHead = scanner.heads;
    this.#answered = false;
    this.#deadline = this.#deadlines.add(this.#options.headerTimeoutMs, () => this.#timeOut());
  }

  #disarm(): void {
    if (this.#deadline === undefined) return;
    this.#deadlines.remove(this.#deadline);
    this.#deadline = undefined;
  }

  /** The head took too long: a 408, unless a response may be under way (it would be cut into). */
  async #timeOut(): Promise<void> {
    this.#deadline = undefined;
    if (this.#ended || this.#cutting) return;
    this.#cutting = true;
    const answer = !this.#answered && !this.#writingDown;
    closeQuietly(this.#server);
    // A client that reads nothing could hold the write: it gets as long as a closing one.
    this.#linger = this.#deadlines.add(LINGER_MS, () => {
      this.#cutting = false;
      this.#close();
    });
    if (answer) {
      try {
        await writeAll(this.#client, this.#response);
      } catch {
        // The client went away first.
      }
    }
    this.#cutting = false;
    this.#close();
  }

  /** A side failed (reset, or closed under a pump): both close, unless a 408 is being written. */
  #fail(): void {
    if (!this.#cutting) this.#close();
  }

  #close(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#relayed.resolve();
    this.#disarm();
    if (this.#linger !== undefined) this.#deadlines.remove(this.#linger);
    closeQuietly(this.#server);
    closeQuietly(this.#client);
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await conn.write(written === 0 ? bytes : bytes.subarray(written));
  }
}

function closeQuietly(conn: Deno.Conn | undefined): void {
  try {
    conn?.close();
  } catch {
    // Already closed.
  }
}

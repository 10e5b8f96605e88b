/** Test helpers of the upstream client: scripted raw TCP servers on 127.0.0.1 and the conformance harness. */
import {
  UpstreamClient,
  type UpstreamClientOptions,
  type UpstreamTransportName,
} from "./client.ts";
import type { UpstreamRequest } from "./types.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A scripted answer piece: bytes to write (each piece its own socket write), a function to call
 * and await, "CLOSE" to close the connection or "HALF_CLOSE" to send a FIN and keep reading.
 */
export type Piece = string | Uint8Array | (() => unknown) | "CLOSE" | "HALF_CLOSE";

/** What a raw server saw. */
export interface RawServerState {
  /** Connections accepted. */
  connections: number;
  /** Requests read. */
  requests: number;
  /** Each request's head, without its blank line. */
  heads: string[];
  /** Each request's body. */
  bodies: string[];
  /** The most requests that were waiting for their answer at once. */
  maxInFlight: number;
}

/** A scripted server; `clientClosed(n)` resolves once the client has closed `n` connections. */
export interface RawServer {
  url: string;
  state: RawServerState;
  clientClosed(n: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A raw HTTP server that answers request `n` with `answer(n)`. close() waits for every connection
 * handler, so nothing outlives a test.
 */
export function rawServer(answer: (n: number) => Piece[]): RawServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const state: RawServerState = {
    connections: 0,
    requests: 0,
    heads: [],
    bodies: [],
    maxInFlight: 0,
  };
  let inFlight = 0;
  let closedByClient = 0;
  const closeWaiters: { n: number; resolve(): void }[] = [];
  const conns: Deno.Conn[] = [];
  const handlers: Promise<void>[] = [];
  async function respond(conn: Deno.TcpConn, pieces: Piece[]): Promise<boolean> {
    for (const piece of pieces) {
      if (typeof piece === "function") await piece();
      else if (piece === "CLOSE") return false;
      else if (piece === "HALF_CLOSE") await conn.closeWrite();
      else {
        const bytes = typeof piece === "string" ? encoder.encode(piece) : piece;
        for (let at = 0; at < bytes.byteLength;) at += await conn.write(bytes.subarray(at));
      }
    }
    return true;
  }
  async function handle(conn: Deno.TcpConn): Promise<void> {
    const buf = new Uint8Array(65536);
    let text = "";
    let open = true;
    try {
      while (open) {
        const n = await conn.read(buf);
        if (n === null) {
          closedByClient++;
          for (const w of closeWaiters) if (closedByClient >= w.n) w.resolve();
          break;
        }
        text += decoder.decode(buf.subarray(0, n));
        for (let end = text.indexOf("\r\n\r\n"); open && end >= 0; end = text.indexOf("\r\n\r\n")) {
          const length = Number(/content-length: (\d+)/i.exec(text.slice(0, end))?.[1] ?? 0);
          if (text.length < end + 4 + length) break;
          state.heads.push(text.slice(0, end));
          state.bodies.push(text.slice(end + 4, end + 4 + length));
          text = text.slice(end + 4 + length);
          state.maxInFlight = Math.max(state.maxInFlight, ++inFlight);
          try {
            open = await respond(conn, answer(state.requests++));
          } finally {
            inFlight--;
          }
        }
      }
    } catch {
      // Reset by the client, or closed by close().
    } finally {
      try {
        conn.close();
      } catch { /* closed */ }
    }
  }
  const serving = (async () => {
    for await (const conn of listener) {
      state.connections++;
      conns.push(conn);
      handlers.push(handle(conn));
    }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    state,
    clientClosed(n) {
      const { promise, resolve } = Promise.withResolvers<void>();
      if (closedByClient >= n) resolve();
      else closeWaiters.push({ n, resolve });
      return within(promise, 3_000, `the client closing ${n} connection(s)`);
    },
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await serving.catch(() => {});
      await Promise.all(handlers);
    },
  };
}

/** `promise`, or a rejection naming `what` when it has not settled within `ms` (a guard, never the assertion itself). */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Waited ${ms} ms for ${what} in vain`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A listener whose accept queue is full: a further connect is neither accepted nor refused, as
 * with a replica that drops packets.
 */
export async function stalledListener(): Promise<{ url: string; close(): void }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const filled: Deno.Conn[] = [];
  for (;;) {
    const connecting = Deno.connect({ hostname: "127.0.0.1", port });
    const conn = await within(connecting, 200, "a connect").catch(() => null);
    if (!conn) {
      connecting.then((c) => c.close(), () => {});
      break;
    }
    filled.push(conn);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    close() {
      for (const c of filled) c.close();
      listener.close();
    },
  };
}

/** A POST of `body` to `path`. */
export function post(
  url: string,
  options: { body?: string; path?: string; signal?: AbortSignal; method?: string } = {},
): UpstreamRequest {
  return {
    method: options.method ?? "POST",
    baseUrl: url,
    path: options.path ?? "/v1/x",
    headers: [["content-type", "application/json"]],
    body: encoder.encode(options.body ?? "{}"),
    signal: options.signal ?? new AbortController().signal,
  };
}

/** The body of `res` as text. */
export async function text(res: { bytes(): Promise<Uint8Array> }): Promise<string> {
  return decoder.decode(await res.bytes());
}

/** What a conformance case gets: the scripted server, a client on one transport, and its name. */
export interface Case {
  server: RawServer;
  client: UpstreamClient;
  transport: UpstreamTransportName;
}

/**
 * Asserts that every answer came over one kept-alive connection. Only for the custom transport:
 * fetch hands a connection back to its pool from a task of its own after the body ends, so a
 * request sent right after may open another.
 */
export function assertOneConnection({ server, transport }: Case): void {
  if (transport === "http1" && server.state.connections !== 1) {
    throw new Error(`Expected one connection, the server accepted ${server.state.connections}`);
  }
}

/** Options of {@linkcode conformance}. */
export interface ConformanceOptions {
  /** Settings of the client under test. */
  client?: Omit<UpstreamClientOptions, "transport">;
  /** Why fetch cannot pass this case: its run is then registered as ignored, under that reason. */
  fetchCannot?: string;
}

/**
 * Registers `name` once per transport: each run gets a fresh scripted server and client, both
 * closed however it ends.
 */
export function conformance(
  name: string,
  answer: (n: number) => Piece[],
  test: (c: Case) => Promise<void>,
  options: ConformanceOptions = {},
): void {
  for (const transport of ["http1", "fetch"] as const) {
    const cannot = transport === "fetch" ? options.fetchCannot : undefined;
    Deno.test({
      name: `[${transport}] ${name}${cannot ? ` (cannot: ${cannot})` : ""}`,
      ignore: cannot !== undefined,
      async fn() {
        const server = rawServer(answer);
        const client = new UpstreamClient({ ...options.client, transport });
        try {
          await test({ server, client, transport });
        } finally {
          client.close();
          await server.close();
        }
      },
    });
  }
}

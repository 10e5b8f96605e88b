/** Starts the gateway's HTTP server, behind the connection guard when a head timeout is set. */
import { join } from "node:path";
import { isLoopbackHost } from "../auth/exposure.ts";
import { ConnectionGuard } from "./connection.ts";

/** Seconds of `proxy.header_timeout` when it is unset and the gateway listens beyond loopback. */
export const EXPOSED_HEADER_TIMEOUT_S = 10;

/**
 * The head timeout in seconds for a gateway on `host`: `configured` when set (0 is off), else
 * {@linkcode EXPOSED_HEADER_TIMEOUT_S} on a non-loopback interface and off on loopback, where
 * only this machine's own clients connect and the guard's relay would only cost.
 */
export function headerTimeoutFor(configured: number | undefined, host: string): number {
  return configured ?? (isLoopbackHost(host) ? 0 : EXPOSED_HEADER_TIMEOUT_S);
}

/** Options of {@linkcode serveGuarded}. */
export interface GuardedServeOptions {
  hostname: string;
  port: number;
  /** Seconds a request head may take to arrive; 0 serves without the guard. */
  headerTimeoutS: number;
}

/** A server started by {@linkcode serveGuarded}. */
export interface GuardedServer {
  /** Where the clients connect. */
  readonly addr: Deno.NetAddr;
  /** The guard in front of Deno.serve, when there is one. */
  readonly guard: ConnectionGuard | undefined;
  /**
   * Stops accepting, lets the connections Deno.serve has finish as its shutdown does (behind the
   * guard, until their last bytes reached the clients), then ends the rest.
   */
  shutdown(): Promise<void>;
}

/**
 * Serves `handler` on `options.hostname`:`options.port`: with Deno.serve there directly, or, with a
 * head timeout, with Deno.serve on a Unix socket in a private temp dir and a
 * {@linkcode ConnectionGuard} on the port relaying to it. Behind the guard a handler's
 * `info.remoteAddr` is the socket's, not the client's: nothing in the gateway reads it.
 */
export async function serveGuarded(
  options: GuardedServeOptions,
  handler: Deno.ServeHandler<Deno.NetAddr | Deno.UnixAddr>,
): Promise<GuardedServer> {
  if (options.headerTimeoutS <= 0) {
    const listening = Promise.withResolvers<Deno.NetAddr>();
    const server = Deno.serve({
      hostname: options.hostname,
      port: options.port,
      onListen: (addr) => listening.resolve(addr),
    }, handler);
    const addr = await listening.promise;
    return { addr, guard: undefined, shutdown: () => server.shutdown() };
  }
  // Only this process's user may connect to the socket: its dir is 0700.
  const dir = await Deno.makeTempDir({ prefix: "turnpike-http-" });
  await Deno.chmod(dir, 0o700);
  const path = join(dir, "http.sock");
  const listening = Promise.withResolvers<void>();
  const server = Deno.serve({ path, onListen: () => listening.resolve() }, handler);
  await listening.promise;
  let guard: ConnectionGuard;
  try {
    guard = ConnectionGuard.listen({
      hostname: options.hostname,
      port: options.port,
      headerTimeoutMs: options.headerTimeoutS * 1000,
      target: { transport: "unix", path },
    });
  } catch (error) {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
  return {
    addr: guard.addr,
    guard,
    async shutdown() {
      guard.stopAccepting();
      await server.shutdown();
      // What Deno.serve wrote last may still be on its way through the guard.
      await guard.flushed();
      await guard.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

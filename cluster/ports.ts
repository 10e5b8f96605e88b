/** Free TCP ports for launched replicas, and telling a replica that lost its port from one that failed otherwise. */

/**
 * A TCP port nothing listens on right now on `hostname`: bound as port 0, read back, let go.
 * Another process may take it before the caller binds it, so a caller that launches a process on
 * it retries on {@linkcode saysAddressInUse} (as `launchReplica` does for port 0).
 */
export function freePort(hostname = "127.0.0.1"): number {
  const listener = Deno.listen({ hostname, port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/**
 * True when a process's output says its listening address was taken: Deno's `AddrInUse`, the
 * OS's "Address already in use" (uvicorn under `vllm serve`), or Node's `EADDRINUSE`.
 */
export function saysAddressInUse(output: string): boolean {
  return /address already in use|EADDRINUSE|AddrInUse/i.test(output);
}

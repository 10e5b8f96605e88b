/**
 * Local port forwards to replicas on cluster nodes: `SshTunnels` (what `ssh -L` does, over the SSH
 * shell's one connection; each local connection opens its own `direct-tcpip` channel, so a dropped
 * SSH connection costs only the connections open at the time), and `NoTunnels` for nodes the
 * gateway reaches directly.
 */
// @ts-types="@types/ssh2"
import type { ClientChannel } from "ssh2";
import { logger } from "../../actors/runtime/log.ts";
import type { Tunnel, Tunnels } from "../slurm/types.ts";

/** Where tunnels open their channels: {@linkcode SshShell.forwardOut}. */
export interface ChannelSource {
  readonly where: string;
  forwardOut(host: string, port: number): Promise<ClientChannel>;
}

/** Forwards over SSH: a local listener per `remoteHost:remotePort`, kept until closed. */
export class SshTunnels implements Tunnels {
  readonly #source: ChannelSource;
  readonly #open = new Map<string, SshTunnel>();
  #closed = false;

  /** @param source the SSH shell whose connection carries the forwards */
  constructor(source: ChannelSource) {
    this.#source = source;
  }

  forward(
    remoteHost: string,
    remotePort: number,
    options: { localPort?: number } = {},
  ): Promise<Tunnel> {
    if (this.#closed) return Promise.reject(new Error("The SSH tunnels are closed"));
    const key = `${remoteHost}:${remotePort}`;
    const open = this.#open.get(key);
    if (open) return Promise.resolve(open);
    const listener = Deno.listen({ hostname: "127.0.0.1", port: options.localPort ?? 0 });
    const tunnel = new SshTunnel(listener, this.#source, remoteHost, remotePort, () => {
      if (this.#open.get(key) === tunnel) this.#open.delete(key);
    });
    this.#open.set(key, tunnel);
    return Promise.resolve(tunnel);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#open.values()].map((tunnel) => tunnel.close()));
  }
}

/** Pass-through for nodes the gateway reaches: the backend's URL is the node's own. */
export class NoTunnels implements Tunnels {
  forward(remoteHost: string, remotePort: number): Promise<Tunnel> {
    return Promise.resolve({
      url: `http://${remoteHost.includes(":") ? `[${remoteHost}]` : remoteHost}:${remotePort}`,
      localPort: remotePort,
      remoteHost,
      remotePort,
      close: () => Promise.resolve(),
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

class SshTunnel implements Tunnel {
  readonly url: string;
  readonly localPort: number;
  readonly remoteHost: string;
  readonly remotePort: number;
  readonly #listener: Deno.Listener;
  readonly #source: ChannelSource;
  readonly #onClose: () => void;
  readonly #conns = new Set<Deno.Conn>();
  readonly #accepting: Promise<void>;
  #closed = false;

  constructor(
    listener: Deno.Listener,
    source: ChannelSource,
    remoteHost: string,
    remotePort: number,
    onClose: () => void,
  ) {
    this.#listener = listener;
    this.#source = source;
    this.#onClose = onClose;
    this.remoteHost = remoteHost;
    this.remotePort = remotePort;
    this.localPort = (listener.addr as Deno.NetAddr).port;
    this.url = `http://127.0.0.1:${this.localPort}`;
    this.#accepting = this.#accept();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose();
    this.#listener.close();
    for (const conn of this.#conns) closeQuietly(conn);
    await this.#accepting;
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        this.#conns.add(conn);
        this.#serve(conn).finally(() => this.#conns.delete(conn));
      }
    } catch (error) {
      if (!this.#closed) {
        logger.error("a tunnel's listener failed", { url: this.url, error: String(error) });
      }
    }
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    let channel: ClientChannel;
    try {
      channel = await this.#source.forwardOut(this.remoteHost, this.remotePort);
    } catch (error) {
      logger.warn("a tunnel could not reach its replica", {
        url: this.url,
        remote: `${this.remoteHost}:${this.remotePort}`,
        via: this.#source.where,
        error: (error as Error).message,
      });
      closeQuietly(conn);
      return;
    }
    if (this.#closed) {
      channel.close();
      closeQuietly(conn);
      return;
    }
    await pipe(conn, channel);
  }
}

/**
 * Copies both ways until the replica's side ends (then the local connection is closed); the
 * local side ending sends EOF to the replica and waits for its reply to finish.
 */
async function pipe(conn: Deno.Conn, channel: ClientChannel): Promise<void> {
  const up = (async () => {
    for await (const chunk of conn.readable) {
      if (!channel.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            channel.off("drain", done).off("close", done);
            resolve();
          };
          channel.once("drain", done).once("close", done);
        });
      }
      if (channel.destroyed) return;
    }
    channel.end();
  })().catch(() => {});
  try {
    for await (const chunk of channel as AsyncIterable<Uint8Array>) await writeAll(conn, chunk);
  } catch {
    // The SSH connection dropped, or the local client went away: both ends are closed below.
  }
  channel.close();
  closeQuietly(conn);
  await up;
}

async function writeAll(conn: Deno.Conn, chunk: Uint8Array): Promise<void> {
  for (let written = 0; written < chunk.length;) {
    written += await conn.write(chunk.subarray(written));
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

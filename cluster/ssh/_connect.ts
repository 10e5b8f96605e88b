/** Opens one ssh2 connection (directly, or through a ProxyJump bastion) with host key checking. */
// @ts-types="@types/ssh2"
import { Client, type ClientChannel, type ConnectConfig } from "ssh2";
import type { Duplex } from "node:stream";
import { type HostKeyPolicy, SshHostKeyError, verifyHostKey } from "./host_key.ts";
import type { SshEndpoint } from "./options.ts";

/** Everything one connection needs, resolved from the config. */
export interface ConnectSettings {
  target: SshEndpoint;
  jump?: SshEndpoint;
  privateKey?: string;
  agentSocket?: string;
  policy: HostKeyPolicy;
  keepaliveMs: number;
  readyTimeoutMs: number;
}

/** A connection that can not be opened; `permanent` ones (host key, authentication) are not retried. */
export class SshConnectError extends Error {
  override name = "SshConnectError";
  readonly permanent: boolean;

  /** @param permanent whether trying again can help */
  constructor(message: string, permanent: boolean, options?: ErrorOptions) {
    super(message, options);
    this.permanent = permanent;
  }
}

/** One open connection; `alive` turns false once it closes. */
export interface Connection {
  readonly client: Client;
  alive: boolean;
  /** This machine's TCP port of the connection (the bastion's when jumping), for diagnostics. */
  readonly localPort: number | undefined;
  /** Settles when the connection (and its bastion's) has closed. */
  readonly closed: Promise<void>;
  end(): void;
}

/** Connects to `settings.target`, through `settings.jump` when set. */
export async function openConnection(settings: ConnectSettings): Promise<Connection> {
  if (!settings.jump) return track(await connectClient(settings.target, settings));
  const bastion = await connectClient(settings.jump, settings);
  try {
    const sock = await forwardChannel(bastion, settings.target.host, settings.target.port);
    const client = await connectClient(settings.target, settings, sock);
    return track(client, bastion);
  } catch (error) {
    bastion.end();
    if (error instanceof SshConnectError) throw error;
    throw new SshConnectError(
      `Cannot reach ${endpointName(settings.target)} through the bastion ${
        endpointName(settings.jump)
      }: ${(error as Error).message}`,
      false,
      { cause: error },
    );
  }
}

/** Opens a `direct-tcpip` channel to `host:port` from the server's side. */
export function forwardChannel(client: Client, host: string, port: number): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    try {
      client.forwardOut("127.0.0.1", 0, host, port, (error, channel) => {
        if (error) reject(error);
        else resolve(channel);
      });
    } catch (error) {
      reject(error);
    }
  });
}

/** `user@host:port`, for messages. */
export function endpointName(endpoint: SshEndpoint): string {
  return `${endpoint.user}@${endpoint.host}:${endpoint.port}`;
}

function connectClient(
  endpoint: SshEndpoint,
  settings: ConnectSettings,
  sock?: Duplex,
): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let refusal: SshHostKeyError | undefined;
    const onError = (error: Error & { level?: string }) => {
      client.end();
      reject(refusal ? new SshConnectError(refusal.message, true) : describe(endpoint, error));
    };
    client.once("error", onError);
    client.once("ready", () => {
      client.off("error", onError);
      resolve(client);
    });
    const config: ConnectConfig = {
      host: endpoint.host,
      port: endpoint.port,
      username: endpoint.user,
      keepaliveInterval: settings.keepaliveMs,
      keepaliveCountMax: 3,
      readyTimeout: settings.readyTimeoutMs,
      hostVerifier: (key: Uint8Array) => {
        try {
          verifyHostKey(endpoint.host, endpoint.port, key, settings.policy);
          return true;
        } catch (error) {
          refusal = error instanceof SshHostKeyError
            ? error
            : new SshHostKeyError((error as Error).message);
          return false;
        }
      },
      ...(settings.privateKey === undefined ? {} : { privateKey: settings.privateKey }),
      ...(settings.agentSocket === undefined ? {} : { agent: settings.agentSocket }),
      ...(sock === undefined ? {} : { sock }),
    };
    try {
      client.connect(config);
    } catch (error) {
      onError(error as Error);
    }
  });
}

function describe(endpoint: SshEndpoint, error: Error & { level?: string }): SshConnectError {
  const where = endpointName(endpoint);
  if (error.level === "client-authentication") {
    return new SshConnectError(
      `SSH authentication to ${where} failed (${error.message}): check cluster.slurm.ssh.user, ` +
        `and that the key (cluster.slurm.ssh.key) or the agent's keys (agent: true) are authorized there`,
      true,
      { cause: error },
    );
  }
  if (/private key|passphrase/i.test(error.message)) {
    return new SshConnectError(
      `Cannot use the SSH key for ${where}: ${error.message}; an encrypted key needs agent: true with the key added to ssh-agent`,
      true,
      { cause: error },
    );
  }
  return new SshConnectError(`Cannot connect to ${where}: ${error.message}`, false, {
    cause: error,
  });
}

function track(client: Client, bastion?: Client): Connection {
  let markClosed!: () => void;
  const closed = new Promise<void>((resolve) => markClosed = resolve);
  const connection: Connection = {
    client,
    alive: true,
    localPort: socketOf(bastion ?? client)?.localPort,
    closed,
    end() {
      connection.alive = false;
      client.end();
      bastion?.end();
    },
  };
  let open = bastion ? 2 : 1;
  const onClose = () => {
    connection.alive = false;
    client.end();
    bastion?.end();
    if (--open === 0) markClosed();
  };
  // A dropped connection reports an error and then closes: the close is what counts.
  const ignore = () => {};
  client.on("error", ignore).once("close", onClose);
  bastion?.on("error", ignore).once("close", onClose);
  return connection;
}

/** The TCP socket ssh2 keeps as `_sock` (not in its typings; stable through ssh2 1.x). */
function socketOf(client: Client): { localPort?: number } | undefined {
  return (client as unknown as { _sock?: { localPort?: number } })._sock;
}

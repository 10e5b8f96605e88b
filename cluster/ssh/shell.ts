/**
 * `SshShell`: runs SLURM's commands on the login node over one multiplexed ssh2 connection, with
 * keepalive, host key checking, and reconnection with backoff when the connection drops.
 */
// @ts-types="@types/ssh2"
import type { ClientChannel } from "ssh2";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { backoffDelayMs, resolveBackoff } from "../../actors/runtime/backoff.ts";
import type { BackoffOptions } from "../../actors/runtime/types.ts";
import type { ExecResult, Shell } from "../slurm/types.ts";
import {
  type Connection,
  type ConnectSettings,
  endpointName,
  forwardChannel,
  openConnection,
  SshConnectError,
} from "./_connect.ts";
import { commandLine, expandHome, parseProxyJump, type SshConfig } from "./options.ts";

/** Tuning of {@linkcode SshShell} beyond the config. */
export interface SshShellOptions {
  /** Connection attempts before a call rejects (a refused host key or login is never retried). @default 5 */
  connectAttempts?: number;
  /** Delays between connection attempts. @default {minMs: 250, maxMs: 8000} */
  backoff?: BackoffOptions;
  /** How long the SSH handshake may take. @default 20000 */
  readyTimeoutMs?: number;
  /** Commands running at once on the connection (sshd's MaxSessions is 10 by default). @default 8 */
  maxSessions?: number;
  /** Where `HOME` and `SSH_AUTH_SOCK` come from. @default Deno.env */
  env?: { get(name: string): string | undefined };
}

/** The signals a remote command may die of, as exit codes `128 + n` (what a shell reports). */
const SIGNAL_NUMBERS: Record<string, number> = {
  HUP: 1,
  INT: 2,
  QUIT: 3,
  ABRT: 6,
  KILL: 9,
  SEGV: 11,
  PIPE: 13,
  ALRM: 14,
  TERM: 15,
  USR1: 10,
  USR2: 12,
};

/** A {@linkcode Shell} on the login node of `cluster.slurm.ssh`. */
export class SshShell implements Shell {
  readonly where: string;
  readonly #settings: ConnectSettings;
  readonly #attempts: number;
  readonly #backoff: ReturnType<typeof resolveBackoff>;
  readonly #sessions: Semaphore;
  readonly #closing = new AbortController();
  #connection: Connection | undefined;
  #connecting: Promise<Connection> | undefined;
  #connects = 0;

  /** Reads the key file when used; connects on the first call. @param config `cluster.slurm.ssh` */
  constructor(config: SshConfig, options: SshShellOptions = {}) {
    this.#settings = resolveSettings(config, options);
    this.#attempts = options.connectAttempts ?? 5;
    this.#backoff = resolveBackoff({ minMs: 250, maxMs: 8000, ...options.backoff });
    this.#sessions = new Semaphore(options.maxSessions ?? 8);
    const via = this.#settings.jump ? ` via ${endpointName(this.#settings.jump)}` : "";
    this.where = endpointName(this.#settings.target) + via;
  }

  /** How many connections were opened so far (1 unless it had to reconnect). */
  get connects(): number {
    return this.#connects;
  }

  /** This machine's TCP port of the live connection, if connected (the bastion's when jumping). */
  get localPort(): number | undefined {
    return this.#connection?.alive ? this.#connection.localPort : undefined;
  }

  /** Connects now (if not connected), so that a bad host key or login shows at start. */
  async connect(): Promise<void> {
    await this.#connected();
  }

  async exec(
    argv: readonly string[],
    options: { stdin?: string; signal?: AbortSignal } = {},
  ): Promise<ExecResult> {
    const line = commandLine(argv);
    options.signal?.throwIfAborted();
    return await this.#sessions.run(async () => {
      const channel = await this.#open((connection) => execChannel(connection, line));
      const stdout: Uint8Array[] = [];
      const result = await runChannel(channel, {
        line,
        where: this.where,
        onStdout: (chunk) => stdout.push(chunk),
        ...options,
      });
      if (result.aborted) throw options.signal?.reason;
      return { code: result.code, stdout: decode(stdout), stderr: result.stderr };
    });
  }

  async stream(
    argv: readonly string[],
    onData: (chunk: string) => void,
    options: { signal?: AbortSignal } = {},
  ): Promise<number> {
    const line = commandLine(argv);
    if (options.signal?.aborted) return 130;
    return await this.#sessions.run(async () => {
      const channel = await this.#open((connection) => execChannel(connection, line));
      const decoder = new TextDecoder();
      const result = await runChannel(channel, {
        line,
        where: this.where,
        onStdout: (chunk) => {
          const text = decoder.decode(chunk, { stream: true });
          if (text !== "") onData(text);
        },
        ...options,
      });
      const rest = decoder.decode();
      if (rest !== "") onData(rest);
      return result.code;
    });
  }

  /**
   * Opens a `direct-tcpip` channel to `host:port` as seen from the login node (a tunnel's one
   * connection), reconnecting first when the connection dropped.
   */
  async forwardOut(host: string, port: number): Promise<ClientChannel> {
    return await this.#open((connection) => forwardChannel(connection.client, host, port));
  }

  async close(): Promise<void> {
    this.#closing.abort();
    const connection = this.#connection ?? await this.#connecting?.catch(() => undefined);
    this.#connection = undefined;
    if (!connection) return;
    connection.end();
    await connection.closed;
  }

  /**
   * Runs `open` on the live connection; when it fails because the connection was lost (the
   * channel never opened, so nothing ran), reconnects and tries once more.
   */
  async #open<T>(open: (connection: Connection) => Promise<T>): Promise<T> {
    const connection = await this.#connected();
    try {
      return await open(connection);
    } catch (error) {
      if (!lostConnection(connection, error)) throw error;
      connection.end();
      return await open(await this.#connected());
    }
  }

  async #connected(): Promise<Connection> {
    if (this.#closing.signal.aborted) throw new Error(`The SSH shell to ${this.where} is closed`);
    if (this.#connection?.alive) return this.#connection;
    this.#connecting ??= this.#connectWithBackoff().finally(() => this.#connecting = undefined);
    return await this.#connecting;
  }

  async #connectWithBackoff(): Promise<Connection> {
    for (let attempt = 0;; attempt++) {
      try {
        const connection = await openConnection(this.#settings);
        if (this.#closing.signal.aborted) {
          connection.end();
          throw new Error(`The SSH shell to ${this.where} is closed`);
        }
        this.#connects++;
        this.#connection = connection;
        return connection;
      } catch (error) {
        const permanent = !(error instanceof SshConnectError) || error.permanent;
        if (permanent || attempt + 1 >= this.#attempts || this.#closing.signal.aborted) {
          if (permanent) throw error;
          throw new SshConnectError(
            `${(error as Error).message} (gave up after ${attempt + 1} attempts)`,
            false,
            { cause: error },
          );
        }
        await delay(backoffDelayMs(this.#backoff, attempt), this.#closing.signal);
      }
    }
  }
}

/** The connection settings of `config`, with `~` expanded and the key file read. */
function resolveSettings(config: SshConfig, options: SshShellOptions): ConnectSettings {
  const env = options.env ?? Deno.env;
  const home = env.get("HOME");
  const target = { host: config.host, port: config.port ?? 22, user: config.user };
  const auth: { privateKey?: string; agentSocket?: string } = {};
  if (config.agent) {
    const socket = env.get("SSH_AUTH_SOCK");
    if (!socket) {
      throw new Error(
        "cluster.slurm.ssh.agent is true but SSH_AUTH_SOCK is not set: start ssh-agent and ssh-add your key, or set cluster.slurm.ssh.key",
      );
    }
    auth.agentSocket = socket;
  }
  const keyPath = config.key ?? (config.agent ? undefined : defaultKey(home));
  if (keyPath !== undefined) auth.privateKey = readKey(expandHome(keyPath, home));
  if (auth.privateKey === undefined && auth.agentSocket === undefined) {
    throw new Error(
      "cluster.slurm.ssh has no key and no agent, and none of ~/.ssh/id_ed25519, id_ecdsa, id_rsa exists: set key or agent: true",
    );
  }
  return {
    target,
    ...(config.proxy_jump ? { jump: parseProxyJump(config.proxy_jump, config.user) } : {}),
    ...auth,
    policy: {
      knownHostsPath: expandHome(config.known_hosts ?? "~/.ssh/known_hosts", home),
      acceptNew: config.accept_new_host_key ?? false,
    },
    keepaliveMs: (config.keepalive_interval ?? 15) * 1000,
    readyTimeoutMs: options.readyTimeoutMs ?? 20_000,
  };
}

function defaultKey(home: string | undefined): string | undefined {
  if (home === undefined) return undefined;
  return ["id_ed25519", "id_ecdsa", "id_rsa"].map((name) => join(home, ".ssh", name)).find(
    (path) => {
      try {
        return Deno.statSync(path).isFile;
      } catch {
        return false;
      }
    },
  );
}

function readKey(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    throw new Error(
      `Cannot read the SSH key cluster.slurm.ssh.key "${path}": ${(error as Error).message}`,
    );
  }
}

/** Whether `error`, from opening a channel, means the connection is gone (so nothing ran). */
function lostConnection(connection: Connection, error: unknown): boolean {
  const message = (error as Error | undefined)?.message ?? "";
  return !connection.alive || message === "Not connected" || message === "No response from server";
}

function execChannel(connection: Connection, line: string): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    try {
      connection.client.exec(line, (error, channel) => error ? reject(error) : resolve(channel));
    } catch (error) {
      reject(error);
    }
  });
}

interface RunOptions {
  line: string;
  where: string;
  onStdout: (chunk: Uint8Array) => void;
  stdin?: string;
  signal?: AbortSignal;
}

/** Feeds stdin, collects stderr, waits for the exit; rejects when the connection drops first. */
function runChannel(
  channel: ClientChannel,
  options: RunOptions,
): Promise<{ code: number; stderr: string; aborted: boolean }> {
  return new Promise((resolve, reject) => {
    const stderr: Uint8Array[] = [];
    let exit: number | undefined;
    let aborted = false;
    const onAbort = () => {
      aborted = true;
      // Asks sshd to signal the command's process group, then closes the channel. sshd refuses
      // signal requests on root logins ("session signalling requires privilege separation") and
      // keeps a channel open until its command exits, so the caller is answered now.
      signalChannel(channel, "TERM");
      channel.close();
      resolve({ code: exit ?? 143, stderr: decode(stderr), aborted });
    };
    channel.on("data", (chunk: Buffer) => options.onStdout(chunk));
    channel.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    channel.on("exit", (code: number | null, signal?: string) => {
      exit = code ?? 128 + (SIGNAL_NUMBERS[(signal ?? "").replace(/^SIG/, "")] ?? 127);
    });
    channel.on("close", () => {
      options.signal?.removeEventListener("abort", onAbort);
      if (aborted) return;
      if (exit === undefined) {
        reject(
          new SshConnectError(
            `The SSH connection to ${options.where} was lost while running: ${options.line}`,
            false,
          ),
        );
        return;
      }
      resolve({ code: exit, stderr: decode(stderr), aborted });
    });
    options.signal?.addEventListener("abort", onAbort, { once: true });
    if (options.stdin === undefined) channel.end();
    else channel.end(options.stdin);
  });
}

/**
 * Sends a `signal` request on a session channel. ssh2's `channel.signal()` sends nothing once
 * stdin is closed (it checks `writable`; mscdex/ssh2#1510), though RFC 4254 allows it after EOF
 * and every command here has its stdin closed at start; so the request goes through ssh2's
 * protocol object, the one `channel.signal()` itself calls.
 */
function signalChannel(channel: ClientChannel, signal: string): void {
  const internals = channel as unknown as {
    outgoing?: { id?: number; state?: string };
    _client?: { _protocol?: { signal(id: number, signal: string): void } };
  };
  const id = internals.outgoing?.id;
  const protocol = internals._client?._protocol;
  const state = internals.outgoing?.state;
  if ((state !== "open" && state !== "eof") || id === undefined || !protocol) return;
  protocol.signal(id, signal);
}

function decode(chunks: Uint8Array[]): string {
  return Buffer.concat(chunks).toString("utf8");
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** At most `limit` holders at once; the others wait in order. */
class Semaphore {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    this.#free = limit;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

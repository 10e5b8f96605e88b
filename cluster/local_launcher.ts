/** Starts one replica of a `cluster.type: local` model as a child process and waits until it is healthy. */
import { join } from "node:path";
import type { ModelConfig } from "../config/mod.ts";
import { commandTemplateOf, renderCommand } from "../config/mod.ts";
import { freePort, saysAddressInUse } from "./ports.ts";
import { OutputTail, pump, signalGroup, sleep, writeAll } from "./_process.ts";
import { pidFilePath, reapOrphan, removePidFile, writePidFile } from "./pidfile.ts";
import { logger } from "../actors/runtime/log.ts";

/** Options of {@linkcode launchReplica}. */
export interface LaunchReplicaOptions {
  /** Which replica of the model this is; picks the port `base_port + index`. @default 0 */
  index?: number;
  /**
   * The port to serve on, instead of `base_port + index`. `0` takes a free port: the replica is
   * started on one that {@linkcode freePort} picks, and on another when it exits saying the port
   * was taken meanwhile (a `vllm serve` cannot report a port it bound itself).
   */
  port?: number;
  /** How a port is picked for `port: 0`, for tests. @default freePort */
  pickPort?: (hostname: string) => number;
  /** Host the replica listens on and is probed at. @default "127.0.0.1" */
  hostname?: string;
  /**
   * Directory under which the replica's stdout and stderr are appended to
   * `logs/<name>-<port>.log`. Without it (and without `logPath`) the output is read and dropped,
   * keeping only its tail for error messages.
   */
  stateDir?: string;
  /** Exact log file to append to; wins over `stateDir`. */
  logPath?: string;
  /** Working directory of the process. @default the gateway's */
  cwd?: string;
  /** Extra environment variables for the process, on top of the gateway's. */
  env?: Record<string, string>;
  /** How long the replica may take to answer 200 on `/health`. @default model.startup_timeout */
  startupTimeoutMs?: number;
  /** Time between health probes while starting. @default 500 */
  pollIntervalMs?: number;
  /** Aborting it while starting stops the process and rejects. */
  signal?: AbortSignal;
}

/** Options of {@linkcode ReplicaProcess.stop}. */
export interface StopReplicaOptions {
  /** Time between SIGTERM and SIGKILL. @default 10000 */
  graceMs?: number;
}

/** A running replica process, healthy when {@linkcode launchReplica} returned it. */
export interface ReplicaProcess {
  /** Base URL of its OpenAI-compatible server, `http://host:port`. */
  readonly url: string;
  /** The port it serves on. */
  readonly port: number;
  /** Its process id (also its process group id). */
  readonly pid: number;
  /** The command it runs, after filling in the template. */
  readonly argv: readonly string[];
  /** Where its output goes, or undefined when it is dropped. */
  readonly logPath: string | undefined;
  /** Resolves to its exit code once it has exited (128 + the signal number when killed). */
  readonly exited: Promise<number>;
  /** SIGTERM to its process group, SIGKILL after the grace; resolves to the exit code. */
  stop(options?: StopReplicaOptions): Promise<number>;
}

/** Why a replica did not become healthy. */
export type ReplicaStartFailure = "spawn" | "exited" | "timeout" | "aborted";

/** A replica that could not be started; the process, if any, is stopped when this is thrown. */
export class ReplicaStartError extends Error {
  /** What went wrong. */
  readonly reason: ReplicaStartFailure;
  /** The exit code when the process exited early. */
  readonly exitCode: number | undefined;
  /** The last lines the process printed. */
  readonly outputTail: string;
  /** The process id, when a process was started (it has exited by the time this is thrown). */
  readonly pid: number | undefined;
  /** @param message what happened and what to do; @param details the reason, exit code and output */
  constructor(
    message: string,
    details: { reason: ReplicaStartFailure; exitCode?: number; outputTail?: string; pid?: number },
  ) {
    super(message);
    this.name = "ReplicaStartError";
    this.reason = details.reason;
    this.exitCode = details.exitCode;
    this.outputTail = details.outputTail ?? "";
    this.pid = details.pid;
  }
}

/** The argv a model's replica runs, with a leading `deno` replaced by this Deno's executable. */
export function replicaArgv(model: ModelConfig, port: number): string[] {
  const argv = renderCommand(commandTemplateOf(model), {
    port,
    model_path: model.model_path,
    name: model.name,
    gpu_memory_utilization: model.gpu_memory_utilization,
    tensor_parallel_size: model.tensor_parallel_size,
    max_model_len: model.max_model_len,
  });
  if (argv[0] === "deno") argv[0] = Deno.execPath();
  return argv;
}

/** One `GET /health`; true on 200. Bounded by `timeoutMs` so a hung server cannot stall startup. */
async function healthy(url: string, timeoutMs: number): Promise<boolean> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetch(`${url}/health`, { signal: controller.signal });
    await response.body?.cancel();
    return response.status === 200;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

function logPathFor(model: ModelConfig, port: number, options: LaunchReplicaOptions) {
  if (options.logPath !== undefined) return options.logPath;
  if (options.stateDir === undefined) return undefined;
  return join(options.stateDir, "logs", `${model.name.replace(/[^\w.-]/g, "_")}-${port}.log`);
}

/**
 * Launches one replica of `model` (a `cluster.type: local` model without `endpoints`): fills in
 * its command template, runs it without a shell in its own process group, and resolves once
 * `GET {url}/health` answers 200. Rejects with {@linkcode ReplicaStartError} when the program
 * cannot start, exits first, stays unhealthy past the startup timeout, or `signal` aborts; the
 * process is stopped before the rejection.
 *
 * @example
 * const replica = await launchReplica(model, { index: 0, stateDir: config.state_dir });
 * // ... route to replica.url ...
 * await replica.stop({ graceMs: 5000 });
 */
export async function launchReplica(
  model: ModelConfig,
  options: LaunchReplicaOptions = {},
): Promise<ReplicaProcess> {
  if (model.endpoints) {
    throw new Error(`Model "${model.name}" lists endpoints, so it is not launched; route to them`);
  }
  const hostname = options.hostname ?? "127.0.0.1";
  if (options.port !== 0) {
    return await launchOn(model, options.port ?? model.base_port + (options.index ?? 0), options);
  }
  const pick = options.pickPort ?? freePort;
  for (let attempt = 1;; attempt++) {
    try {
      return await launchOn(model, pick(hostname), options);
    } catch (error) {
      const lostPort = error instanceof ReplicaStartError && error.reason === "exited" &&
        saysAddressInUse(error.outputTail);
      if (!lostPort || attempt >= PORT_ATTEMPTS) throw error;
    }
  }
}

/** Tries for a free port before giving up on `port: 0`. */
const PORT_ATTEMPTS = 5;

/** One launch of `model` on `port`, as {@linkcode launchReplica} describes. */
async function launchOn(
  model: ModelConfig,
  port: number,
  options: LaunchReplicaOptions,
): Promise<ReplicaProcess> {
  const hostname = options.hostname ?? "127.0.0.1";
  const url = `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
  const label = `Replica "${model.name}" on port ${port}`;
  let argv: string[];
  try {
    argv = replicaArgv(model, port);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new ReplicaStartError(`Cannot start ${label}: its command template ${why}`, {
      reason: "spawn",
    });
  }
  const logPath = logPathFor(model, port, options);

  let log: Deno.FsFile | undefined;
  if (logPath !== undefined) {
    await Deno.mkdir(join(logPath, ".."), { recursive: true });
    log = await Deno.open(logPath, { append: true, create: true });
    const header = `=== ${new Date().toISOString()} starting: ${JSON.stringify(argv)}\n`;
    await writeAll(log, new TextEncoder().encode(header));
  }

  // One this replica's earlier gateway left running when it was killed (-9) goes first.
  const pidPath = options.stateDir === undefined
    ? undefined
    : pidFilePath(options.stateDir, model.name, options.index ?? 0);
  if (pidPath !== undefined) {
    const orphan = await reapOrphan(pidPath);
    if (orphan !== undefined) {
      logger.warn("ended a replica an earlier gateway left running", {
        model: model.name,
        index: options.index ?? 0,
        pid: orphan,
      });
    }
  }

  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(argv[0]!, {
      args: argv.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      ...(options.env !== undefined ? { env: options.env } : {}),
    }).spawn();
  } catch (error) {
    log?.close();
    const why = error instanceof Deno.errors.NotFound
      ? `program "${argv[0]}" was not found; install it or set models[].command`
      : error instanceof Error
      ? error.message
      : String(error);
    throw new ReplicaStartError(`Cannot start ${label}: ${why}`, { reason: "spawn" });
  }

  if (pidPath !== undefined) await writePidFile(pidPath, child.pid, argv).catch(() => {});
  const tail = new OutputTail();
  let writes = Promise.resolve();
  const write = (chunk: Uint8Array) => {
    if (log === undefined) return Promise.resolve();
    const file = log;
    writes = writes.then(() => writeAll(file, chunk)).catch(() => {});
    return writes;
  };
  const readers = [child.stdout.getReader(), child.stderr.getReader()];
  const pumps = Promise.all(readers.map((reader) => pump(reader, tail, write)));
  const exited = child.status.then(async (status) => {
    // Workers it left behind (vLLM's tensor-parallel ranks) would hold GPU memory: end the group.
    signalGroup(child.pid, "SIGKILL");
    // A grandchild that outlived the process may hold the pipes open; give it a moment, then let go.
    await sleep(1000, pumps);
    await Promise.all(readers.map((reader) => reader.cancel().catch(() => {})));
    await pumps;
    await writes;
    log?.close();
    if (pidPath !== undefined) await removePidFile(pidPath, child.pid);
    return status.code;
  });

  let statusKnown = false;
  child.status.then(() => {
    statusKnown = true;
  });
  let stopping: Promise<number> | undefined;
  const replica: ReplicaProcess = {
    url,
    port,
    pid: child.pid,
    argv,
    logPath,
    exited,
    stop({ graceMs = 10_000 } = {}) {
      stopping ??= (async () => {
        signalGroup(child.pid, "SIGTERM");
        await sleep(graceMs, child.status);
        if (!statusKnown) signalGroup(child.pid, "SIGKILL");
        return await exited;
      })();
      return stopping;
    },
  };

  const timeoutMs = options.startupTimeoutMs ?? model.startup_timeout * 1000;
  const pollMs = options.pollIntervalMs ?? 500;
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | undefined;
  exited.then((code) => {
    exitCode = code;
  });
  const abort = Promise.withResolvers<void>();
  const onAbort = () => abort.resolve();
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const interrupted = Promise.race([exited, abort.promise]);
  try {
    return await waitHealthy();
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
  }

  async function waitHealthy(): Promise<ReplicaProcess> {
    const seeLog = logPath === undefined ? "" : `; full log: ${logPath}`;
    const output = () => {
      const text = tail.text();
      return text === "" ? " It printed nothing." : ` Its last output:\n${text}`;
    };

    for (;;) {
      // Not raced against the exit: the probe is bounded, and an abandoned fetch would leak.
      if (await healthy(url, Math.max(1, Math.min(2000, deadline - Date.now())))) return replica;
      if (exitCode !== undefined) {
        throw new ReplicaStartError(
          `${label} exited with code ${exitCode} before it became healthy; check its command` +
            `${seeLog}.${output()}`,
          { reason: "exited", exitCode, outputTail: tail.text(), pid: child.pid },
        );
      }
      if (options.signal?.aborted) {
        await replica.stop({ graceMs: 2000 });
        throw new ReplicaStartError(`${label} was stopped: its start was cancelled`, {
          reason: "aborted",
          outputTail: tail.text(),
          pid: child.pid,
        });
      }
      if (Date.now() >= deadline) {
        await replica.stop({ graceMs: 5000 });
        throw new ReplicaStartError(
          `${label} did not answer 200 on ${url}/health within ${timeoutMs / 1000} s and was ` +
            `stopped; raise models[].startup_timeout or check its command${seeLog}.${output()}`,
          { reason: "timeout", outputTail: tail.text(), pid: child.pid },
        );
      }
      await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())), interrupted);
    }
  }
}

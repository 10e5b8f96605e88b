/** The routing bench's own setup: simulated replicas and the gateway, each as a child process of `main.ts`. */
import { stringify } from "yaml";
import { freePort } from "../../cluster/mod.ts";
import type { Config } from "../../config/mod.ts";
import { DEFAULT_KV_TOKENS } from "../../sim/mod.ts";
import { kvTokensInGib } from "../../sim/mod.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const MAIN = `${ROOT}main.ts`;

/** A child process of `main.ts` that the bench stops when it is done. */
export interface ChildProcess {
  /** Its process id. */
  readonly pid: number;
  /** Stops it: SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

function spawnMain(args: string[], env: Record<string, string> = {}): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env,
  }).spawn();
}

function stopper(child: Deno.ChildProcess, drains: Promise<unknown>[]): ChildProcess["stop"] {
  let stopping: Promise<void> | undefined;
  return (graceMs = 5_000) => {
    stopping ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already gone.
        }
      }, graceMs);
      await child.status;
      clearTimeout(timer);
      await Promise.allSettled(drains);
    })();
    return stopping;
  };
}

/** Reads a child's stream line by line into `sink` (the last lines are kept for error messages). */
async function drainLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      onLine(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
    }
  }
  if (buffer !== "") onLine(buffer);
}

/** Options of {@linkcode startReplicas}. */
export interface ReplicaOptions {
  /** Simulated ms per real ms. */
  timeScale: number;
  /** Served model name. */
  model: string;
  /** KV budget of each replica in tokens; the simulator's default when undefined. */
  kvTokens?: number | undefined;
  /** GiB of host KV tier of each replica (`--kv-offloading-size`); 0 for none. @default 0 */
  kvOffloadGib?: number | undefined;
  /** How long to wait for them to listen. @default 60_000 */
  startTimeoutMs?: number;
}

/**
 * Tokens of prefix cache one replica holds: its GPU KV budget (the simulator's default when
 * undefined) plus its host tier. The gateway's per-replica prefix index is sized like it.
 */
export function replicaCacheTokens(kvTokens: number | undefined, kvOffloadGib = 0): number {
  return (kvTokens ?? DEFAULT_KV_TOKENS) + kvTokensInGib(kvOffloadGib);
}

/**
 * Longest prompt plus output the replicas accept: the Mooncake trace has prompts of up to 191k
 * tokens, past Llama 3.1's 128k, and a replay must not fail them for it.
 */
export const BENCH_MAX_MODEL_LEN = 262_144;

/** Simulated replicas running in one child process (or one per KV budget, see {@linkcode startReplicaFleet}). */
export interface Replicas extends ChildProcess {
  /** Their base URLs, in start order. */
  urls: string[];
  /** Every process serving them, when there are several. */
  pids?: number[];
}

/**
 * Starts one replica per entry of `kvTokensList`, each with that KV budget (a heterogeneous fleet:
 * one child process per distinct budget), in list order; the same as {@linkcode startReplicas}
 * when every budget is equal.
 */
export async function startReplicaFleet(
  kvTokensList: readonly number[],
  options: ReplicaOptions,
): Promise<Replicas> {
  const budgets = [...new Set(kvTokensList)];
  const groups: Replicas[] = [];
  try {
    for (const kvTokens of budgets) {
      const count = kvTokensList.filter((t) => t === kvTokens).length;
      groups.push(await startReplicas(count, { ...options, kvTokens }));
    }
  } catch (error) {
    await Promise.all(groups.map((g) => g.stop()));
    throw error;
  }
  const next = new Map(budgets.map((b, i) => [b, { urls: groups[i]!.urls, at: 0 }]));
  const urls = kvTokensList.map((t) => {
    const group = next.get(t)!;
    return group.urls[group.at++]!;
  });
  return {
    urls,
    pid: groups[0]!.pid,
    pids: groups.map((g) => g.pid),
    stop: async (graceMs?: number) => void await Promise.all(groups.map((g) => g.stop(graceMs))),
  };
}

/** The `main.ts` arguments that run `count` replicas with `options`. */
export function replicaArgs(count: number, options: ReplicaOptions): string[] {
  const args = [
    "sim",
    "--replicas",
    String(count),
    "--base-port",
    "0",
    "--time-scale",
    String(options.timeScale),
    "--tokenizer",
    "approx",
    "--model",
    options.model,
    "--max-model-len",
    String(BENCH_MAX_MODEL_LEN),
  ];
  if (options.kvTokens !== undefined) args.push("--kv-tokens", String(options.kvTokens));
  const gib = options.kvOffloadGib ?? 0;
  if (gib > 0) {
    args.push("--kv-offloading-backend", "native", "--kv-offloading-size", String(gib));
  }
  return args;
}

/**
 * Starts `count` simulated replicas (approximate tokenizer) in one child process on free ports
 * and resolves once each has printed its URL.
 */
export async function startReplicas(count: number, options: ReplicaOptions): Promise<Replicas> {
  const child = spawnMain(replicaArgs(count, options));
  const urls: string[] = [];
  const tail: string[] = [];
  const ready = Promise.withResolvers<void>();
  const onLine = (line: string) => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
    const m = /listening on (http:\/\/\S+)/.exec(line);
    if (m) {
      urls.push(m[1]!);
      if (urls.length === count) ready.resolve();
    }
  };
  const drains = [drainLines(child.stdout, onLine), drainLines(child.stderr, onLine)];
  const stop = stopper(child, drains);
  child.status.then((s) => ready.reject(new Error(`Simulator exited with code ${s.code}`)));
  const timer = setTimeout(
    () => ready.reject(new Error("Simulator did not start in time")),
    options.startTimeoutMs ?? 60_000,
  );
  try {
    await ready.promise;
  } catch (error) {
    await stop();
    throw new Error(
      `${(error as Error).message}; its last output:\n${tail.join("\n")}`,
    );
  } finally {
    clearTimeout(timer);
  }
  return { urls, stop, pid: child.pid };
}

/** Options of {@linkcode startGateway}. */
export interface GatewayOptions {
  /** `proxy.strategy`. */
  strategy: Config["proxy"]["strategy"];
  /** Served model name. */
  model: string;
  /** Simulated ms per real ms: the scrape interval shrinks with it. */
  timeScale: number;
  /** The replicas' KV budget in tokens (the prefix index is sized like it, plus the host tier). */
  kvTokens?: number | undefined;
  /** GiB of host KV tier of each replica; 0 for none. @default 0 */
  kvOffloadGib?: number | undefined;
  /** Directory for the gateway's config and state. */
  dir: string;
  /** The state dir (and with it the KV file), when several gateways share one. @default `${dir}/state` */
  stateDir?: string;
  /** `proxy.prefix_feedback`: false keeps the router's prefix index open loop. @default true */
  prefixFeedback?: boolean;
  /** How long to wait until every replica is healthy. @default 60_000 */
  startTimeoutMs?: number;
  /**
   * Whether admission control runs as it does by default (adaptive per-replica limits, a queue at
   * the gateway, early shedding); else it is off (`admission.enabled: false`) and the gateway
   * forwards each request at once, as the peers' routers do. @default false
   */
  gatewayAdmission?: boolean;
  /**
   * With `gatewayAdmission` false: admission control runs with fixed caps instead of off
   * (`admission.adaptive: false`: a replica's scraped KV capacity and 256 in flight, a request
   * that finds no room waiting in the gateway's queue), as the bench ran before 2026-12-03.
   * @default false
   */
  fixedCaps?: boolean;
}

/** A gateway running as a child process. */
export interface GatewayProcess extends ChildProcess {
  /** Its base URL. */
  url: string;
}

/** The gateway's `proxy.request_timeout` in the bench, in seconds. */
const REQUEST_TIMEOUT_S = 600;

/** The YAML config the bench gives the gateway: the replicas as static endpoints. */
export function gatewayConfig(
  urls: readonly string[],
  port: number,
  options: GatewayOptions,
): string {
  const proxy: Record<string, unknown> = {
    host: "127.0.0.1",
    port,
    strategy: options.strategy,
    health_check_interval: 1,
    // A real deployment scrapes every 2 s; keep that in simulated time.
    metrics_scrape_interval: Math.max(0.2, 2 / options.timeScale),
    request_timeout: REQUEST_TIMEOUT_S,
  };
  if (options.prefixFeedback === false) proxy.prefix_feedback = false;
  // The router's estimate of a replica's prefix cache must cover its host tier as well.
  const gib = options.kvOffloadGib ?? 0;
  if (options.kvTokens !== undefined || gib > 0) {
    proxy.prefix_cache_tokens = replicaCacheTokens(options.kvTokens, gib);
  }
  return stringify({
    proxy,
    // A trace replay compares routing at equal throughput: bursts go on to the replicas the
    // strategy chose, which queue them, as behind the peers' routers, instead of waiting at the
    // gateway (whose caps send a request elsewhere while the replica holding its prefix is full)
    // or being shed as overload.
    ...(options.gatewayAdmission
      ? {}
      : { admission: options.fixedCaps ? { adaptive: false } : { enabled: false } }),
    models: [{ name: options.model, endpoints: [...urls] }],
    state_dir: options.stateDir ?? `${options.dir}/state`,
  });
}

/**
 * Starts `main.ts serve` with a generated config routing `options.model` over `urls`, and
 * resolves once its `/health` reports every replica healthy.
 */
export async function startGateway(
  urls: readonly string[],
  options: GatewayOptions,
): Promise<GatewayProcess> {
  const port = freePort();
  await Deno.mkdir(options.dir, { recursive: true });
  const configPath = `${options.dir}/turnpike.yaml`;
  await Deno.writeTextFile(configPath, gatewayConfig(urls, port, options));
  const child = spawnMain(["serve", "--config", configPath]);
  const tail: string[] = [];
  const onLine = (line: string) => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
  };
  const drains = [drainLines(child.stdout, onLine), drainLines(child.stderr, onLine)];
  const stop = stopper(child, drains);
  let exited: Deno.CommandStatus | undefined;
  child.status.then((s) => (exited = s));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  while (true) {
    if (exited !== undefined) {
      await stop();
      throw new Error(
        `Gateway exited with code ${exited.code}; its last output:\n${tail.join("\n")}`,
      );
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `Gateway did not become healthy in time; its last output:\n${tail.join("\n")}`,
      );
    }
    if (await allHealthy(url, urls.length)) return { url, stop, pid: child.pid };
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function allHealthy(url: string, replicas: number): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
    const body = await res.json() as { models?: { healthy?: number }[] };
    return (body.models ?? []).some((m) => (m.healthy ?? 0) >= replicas);
  } catch {
    return false;
  }
}

/**
 * CPU seconds (user plus system) a process has used so far, from `/proc/<pid>/stat`; undefined
 * where there is no such file (not Linux, or the process is gone).
 */
export function cpuSeconds(pid: number | "self"): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command name (which may hold spaces) start after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks / 100 : undefined;
  } catch {
    return undefined;
  }
}

/** One measured run of the routing bench: fresh replicas, the gateway with one strategy (or none, for the baseline), the replay, the figures. */
import { STRATEGY_NAMES, type StrategyName } from "../../actors/router/mod.ts";
import type { Config } from "../../config/mod.ts";
import { installShutdownHandlers } from "../../actors/runtime/mod.ts";
import { measureRun, scrapeCounters, type StrategyRun } from "./measure.ts";
import { type ReplayProgress, replayTrace } from "./replay.ts";
import type { ReplayClient } from "./stream_client.ts";
import {
  cpuSeconds,
  type GatewayProcess,
  startGateway,
  startReplicaFleet,
  startReplicas,
} from "./setup.ts";
import type { TraceRequest } from "../../sim/mod.ts";

/** The baseline's name: no gateway, each request straight to a replica picked at random. */
export const BASELINE = "baseline";

/** What a run routes with: a `proxy.strategy` value, or the baseline. */
export type RunStrategy = Config["proxy"]["strategy"] | typeof BASELINE;

/**
 * Parses one `--strategies` entry: a strategy name, `baseline`, or a weighted combination
 * `prefix_aware=3+least_load=1`. Throws a message naming the bad part.
 */
export function parseRunStrategy(text: string): RunStrategy {
  const isName = (s: string): s is StrategyName =>
    (STRATEGY_NAMES as readonly string[]).includes(s);
  if (text === BASELINE || isName(text)) return text;
  const weights: Partial<Record<StrategyName, number>> = {};
  for (const part of text.split("+")) {
    const [name, weight] = part.split("=");
    const w = Number(weight);
    if (name === undefined || !isName(name) || !(w > 0)) {
      throw new Error(
        `Unknown strategy "${part}": use ${
          STRATEGY_NAMES.join(", ")
        }, ${BASELINE}, or name=weight joined by +`,
      );
    }
    weights[name] = w;
  }
  return weights;
}

/** A run strategy's label: its name, or `a=3+b=1` for a combination. */
export function strategyLabel(strategy: RunStrategy): string {
  if (typeof strategy === "string") return strategy;
  return Object.entries(strategy).map(([k, v]) => `${k}=${v}`).join("+");
}

/** Options of {@linkcode runStrategy}. */
export interface RunOptions {
  replicas: number;
  timeScale: number;
  model: string;
  kvTokens?: number | undefined;
  /** GiB of host KV tier of each replica; 0 for none. @default 0 */
  kvOffloadGib?: number | undefined;
  /** Seeds the baseline's random picks. */
  seed: number;
  /** KV budget of each replica, one entry per replica (a heterogeneous fleet); overrides `kvTokens` for the replicas only. */
  kvTokensList?: readonly number[] | undefined;
  /** `proxy.prefix_feedback` of the gateways. @default true */
  prefixFeedback?: boolean | undefined;
  /** Gateway processes on one KV file, the replay alternating requests between them. @default 1 */
  gateways?: number | undefined;
  /** Whether the gateways run admission control as by default. @default false */
  gatewayAdmission?: boolean | undefined;
  /** Whether the gateways run admission control with fixed caps (`admission.adaptive: false`). @default false */
  fixedCaps?: boolean | undefined;
  /** The replay's load generator. @default "lean" */
  client?: ReplayClient | undefined;
  onProgress?: (progress: ReplayProgress) => void;
}

function cpuUse(replicaPids: readonly number[], gatewayPids: readonly number[]) {
  const sum = (pids: readonly number[]) => pids.reduce((s, pid) => s + (cpuSeconds(pid) ?? NaN), 0);
  return {
    replicas: sum(replicaPids),
    gateway: sum(gatewayPids),
    loadGenerator: cpuSeconds("self") ?? NaN,
  };
}

/**
 * The label of a run: the strategy's, with ` open-loop` when the prefix feedback is off and
 * ` xN gateways` for several gateways.
 */
export function runLabel(
  strategy: RunStrategy,
  options: Pick<RunOptions, "prefixFeedback" | "gateways">,
): string {
  let label = strategyLabel(strategy);
  if (strategy === BASELINE) return label;
  if (options.prefixFeedback === false) label += " open-loop";
  if ((options.gateways ?? 1) > 1) label += ` x${options.gateways} gateways`;
  return label;
}

async function backendUrls(gateway: GatewayProcess): Promise<Map<string, string>> {
  const res = await fetch(`${gateway.url}/api/backends`, { signal: AbortSignal.timeout(10_000) });
  const body = await res.json() as { backends?: { id: string; url: string }[] };
  return new Map((body.backends ?? []).map((b) => [b.id, b.url.replace(/\/$/, "")]));
}

/**
 * Runs `trace` once with `strategy`: starts the replicas (one child process) and, unless it is
 * the baseline, the gateway (another), replays, reads the replicas' prefix-cache counters before
 * and after, and stops everything.
 */
export async function runStrategy(
  trace: readonly TraceRequest[],
  strategy: RunStrategy,
  options: RunOptions,
): Promise<StrategyRun> {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-bench-routing-" });
  const replicaOptions = {
    timeScale: options.timeScale,
    model: options.model,
    kvTokens: options.kvTokens,
    kvOffloadGib: options.kvOffloadGib,
  };
  const replicas = options.kvTokensList === undefined
    ? await startReplicas(options.replicas, replicaOptions)
    : await startReplicaFleet(options.kvTokensList, replicaOptions);
  const gateways: GatewayProcess[] = [];
  // Interrupted, the bench must not leave its children running.
  const interrupted = installShutdownHandlers({
    shutdown: async () =>
      void await Promise.all([...gateways.map((g) => g.stop()), replicas.stop()]),
  });
  try {
    if (strategy !== BASELINE) {
      for (let i = 0; i < (options.gateways ?? 1); i++) {
        gateways.push(
          await startGateway(replicas.urls, {
            strategy,
            model: options.model,
            timeScale: options.timeScale,
            kvTokens: options.kvTokens,
            kvOffloadGib: options.kvOffloadGib,
            dir: `${dir}/gateway-${i}`,
            stateDir: `${dir}/state`,
            gatewayAdmission: options.gatewayAdmission === true,
            fixedCaps: options.fixedCaps === true,
            ...(options.prefixFeedback === undefined
              ? {}
              : { prefixFeedback: options.prefixFeedback }),
          }),
        );
      }
    }
    // Gateways share their placements only once each has seen another's heartbeat (every 2 s).
    if (gateways.length > 1) await Promise.all(gateways.map((g) => othersSeen(g.url)));
    const gateway = gateways[0];
    const gatewayPids = gateways.map((g) => g.pid);
    const before = await scrapeCounters(replicas.urls);
    const cpuBefore = cpuUse(replicas.pids ?? [replicas.pid], gatewayPids);
    const replay = await replayTrace(trace, {
      target: gateway === undefined
        ? { kind: "direct", urls: replicas.urls, seed: options.seed }
        : { kind: "gateway", url: gateway.url, alternates: gateways.slice(1).map((g) => g.url) },
      model: options.model,
      timeScale: options.timeScale,
      ...(options.client ? { client: options.client } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    const after = await scrapeCounters(replicas.urls);
    const cpuAfter = cpuUse(replicas.pids ?? [replicas.pid], gatewayPids);
    if (gateway !== undefined) {
      const urls = await backendUrls(gateway);
      for (const r of replay.requests) {
        if (r.backend !== undefined) r.backend = urls.get(r.backend) ?? r.backend;
      }
    }
    const run = measureRun(replay, {
      strategy: runLabel(strategy, options),
      backends: replicas.urls,
      before,
      after,
    });
    const seconds = replay.durationMs / 1000;
    run.cpuCores = {
      replicas: (cpuAfter.replicas - cpuBefore.replicas) / seconds,
      gateway: (cpuAfter.gateway - cpuBefore.gateway) / seconds,
      loadGenerator: (cpuAfter.loadGenerator - cpuBefore.loadGenerator) / seconds,
    };
    return run;
  } finally {
    interrupted.remove();
    await Promise.all(gateways.map((g) => g.stop()));
    await replicas.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Resolves once the gateway at `url` reports another gateway process on its KV store (10 s at most). */
async function othersSeen(url: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const health = await fetch(`${url}/health/detailed`).then((r) => r.json()).catch(() => ({}));
    if (health?.placements?.others_present === true) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`The gateway at ${url} saw no other gateway process on its KV store in 10 s`);
}

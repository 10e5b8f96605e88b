/** One overload run: two simulated replicas and a gateway in their own processes, a closed-loop capacity run, then open-loop Poisson load at each level. */
import { join } from "node:path";
import { parse, stringify } from "yaml";
import {
  type GroupChild,
  runJsonChild,
  softLimitFor,
  spawnMain,
  startSims,
} from "../soak/processes.ts";
import type { LoadRun, RequestSample } from "./load.ts";
import type { CircuitWatch } from "./summary.ts";

/** The served model name of the benchmark's replicas. */
export const OVERLOAD_MODEL = "overload-sim";

/** Settings of {@linkcode runOverload}. */
export interface OverloadOptions {
  /** Simulated replicas, one process each. */
  replicas: number;
  /** Simulated ms per real ms of the replicas. */
  timeScale: number;
  /** Offered loads as multiples of the measured capacity. */
  levels: number[];
  /** Real seconds of load per level (and of the capacity run). */
  durationS: number;
  /** Real seconds at the start of each run left out of the figures. */
  warmupS: number;
  /** Real seconds requests may still take after a run before the client gives up on them. */
  graceS: number;
  /** Closed-loop clients of the capacity run. */
  capacityClients: number;
  promptTokens: number;
  maxTokens: number;
  /** A YAML file whose top-level sections are merged into the gateway's config (e.g. `admission:`). */
  gatewayConfig: string | undefined;
  /** Seed of the arrival times. */
  seed: number;
}

/** A run's samples and what was seen of the circuits during it. */
export interface ObservedRun {
  samples: RequestSample[];
  circuits: CircuitWatch;
}

/** What {@linkcode runOverload} measured. */
export interface OverloadRun {
  /** The closed-loop run that finds the fleet's capacity. */
  capacity: ObservedRun;
  /** Capacity in requests per second: the capacity run's successes ended within its window. */
  capacityPerS: number;
  /** Each level's run, in the order given. */
  levels: (ObservedRun & { load: number; offeredPerS: number })[];
}

interface BackendRow {
  id: string;
  circuit: string;
  failed: number;
}

async function backends(url: string): Promise<BackendRow[] | undefined> {
  try {
    const res = await fetch(`${url}/api/backends`, { signal: AbortSignal.timeout(2_000) });
    return (await res.json() as { backends: BackendRow[] }).backends;
  } catch {
    return undefined;
  }
}

/** Polls `/api/backends` until `stop` resolves, counting circuits that leave the closed state. */
async function watchCircuits(url: string, stop: Promise<unknown>): Promise<CircuitWatch> {
  const phase = new Map<string, string>();
  const failedAtStart = new Map<string, number>();
  const failedNow = new Map<string, number>();
  let opened = 0;
  let polls = 0;
  let stopped = false;
  stop.finally(() => stopped = true);
  while (!stopped) {
    const rows = await backends(url);
    polls++;
    for (const row of rows ?? []) {
      const before = phase.get(row.id) ?? "closed";
      if (before === "closed" && row.circuit !== "closed") opened++;
      phase.set(row.id, row.circuit);
      if (!failedAtStart.has(row.id)) failedAtStart.set(row.id, row.failed);
      failedNow.set(row.id, row.failed);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([stop, new Promise((r) => timer = setTimeout(r, 250))]).catch(() => {});
    clearTimeout(timer);
  }
  let failed = 0;
  for (const [id, n] of failedNow) failed += n - (failedAtStart.get(id) ?? n);
  return { opened, failed, polls };
}

/** Waits until the gateway's `/health` counts `replicas` healthy backends. */
async function waitHealthy(url: string, replicas: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const rows = await backends(url);
    if (rows && rows.length >= replicas && rows.every((r) => r.circuit === "closed")) {
      const health = await fetch(`${url}/health`).then((r) => r.json()).catch(() => ({}));
      const models = (health as { models?: { healthy?: number }[] }).models ?? [];
      if (models.some((m) => (m.healthy ?? 0) >= replicas)) return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`The gateway at ${url} did not see ${replicas} healthy replicas in time`);
}

/** The gateway's YAML config: the replicas as endpoints, plus the sections of `extra`. */
export function overloadConfig(
  urls: readonly string[],
  stateDir: string,
  timeScale: number,
  extra: Record<string, unknown> = {},
): string {
  const base: Record<string, unknown> = {
    proxy: {
      host: "127.0.0.1",
      health_check_interval: 2,
      // A deployment scrapes every 2 s; keep that in simulated time.
      metrics_scrape_interval: Math.max(0.2, 2 / timeScale),
    },
    models: [{ name: OVERLOAD_MODEL, endpoints: [...urls] }],
    state_dir: stateDir,
  };
  for (const [key, value] of Object.entries(extra)) {
    const known = base[key];
    base[key] = known && typeof known === "object" && value && typeof value === "object"
      ? { ...known, ...value }
      : value;
  }
  return stringify(base);
}

/** Runs the capacity run and every level; every process it started is stopped before it returns. */
export async function runOverload(
  options: OverloadOptions,
  onLevel: (text: string) => void = () => {},
): Promise<OverloadRun> {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-bench-overload-" });
  const children: GroupChild[] = [];
  // At three times capacity the backlog of an ungated gateway can reach thousands of streams.
  const nofile = softLimitFor(8_192);
  try {
    const urls = await startSims(options.replicas, {
      model: OVERLOAD_MODEL,
      children,
      extraArgs: () => ["--time-scale", String(options.timeScale)],
      nofile,
    });
    const extra = options.gatewayConfig === undefined
      ? {}
      : parse(await Deno.readTextFile(options.gatewayConfig)) as Record<string, unknown>;
    const configPath = join(dir, "turnpike.yaml");
    await Deno.writeTextFile(
      configPath,
      overloadConfig(urls, join(dir, "state"), options.timeScale, extra),
    );
    const gateway = spawnMain(["serve", "--config", configPath, "--port", "0"], "the gateway", {
      nofile,
    });
    children.push(gateway);
    const url = (await gateway.waitForLine(/listening on (http:\/\/[\d.]+:\d+)/, 60_000))[1]!;
    await waitHealthy(url, options.replicas, 30_000);

    const observe = async (args: string[], label: string): Promise<ObservedRun> => {
      const done = Promise.withResolvers<void>();
      const watch = watchCircuits(url, done.promise);
      try {
        const run = await runJsonChild<LoadRun>(
          "bench/overload/load.ts",
          [
            `--url=${url}/v1/chat/completions`,
            `--model=${OVERLOAD_MODEL}`,
            `--duration=${options.durationS}`,
            `--grace=${options.graceS}`,
            `--prompt-tokens=${options.promptTokens}`,
            `--max-tokens=${options.maxTokens}`,
            ...args,
          ],
          label,
          { nofile },
        );
        done.resolve();
        return { samples: run.samples, circuits: await watch };
      } finally {
        done.resolve();
        await watch;
        // Whatever the replicas still hold of this run is cancelled with its client; let them settle.
        await new Promise((r) => setTimeout(r, 1_000));
      }
    };

    const capacity = await observe(
      [`--clients=${options.capacityClients}`],
      "The capacity run's load generator",
    );
    const window = { fromS: options.warmupS, toS: options.durationS };
    const done = capacity.samples.filter((s) =>
      s.status === 200 && s.error === undefined && s.endMs >= window.fromS * 1000 &&
      s.endMs < window.toS * 1000
    );
    const capacityPerS = done.length / (window.toS - window.fromS);
    if (!(capacityPerS > 0)) {
      throw new Error(
        "The capacity run completed no request: see the gateway's output above, or lengthen --duration",
      );
    }
    onLevel(`capacity: ${capacityPerS.toFixed(2)} req/s`);
    const levels: OverloadRun["levels"] = [];
    for (const [i, load] of options.levels.entries()) {
      const offeredPerS = load * capacityPerS;
      const run = await observe(
        [`--rate=${offeredPerS}`, `--seed=${options.seed + i}`],
        `The load generator at ${load}x`,
      );
      levels.push({ ...run, load, offeredPerS });
      onLevel(`${load}x: ${run.samples.length} requests`);
    }
    return { capacity, capacityPerS, levels };
  } finally {
    for (const child of children.reverse()) await child.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** One soak run: simulated replicas and a gateway in their own processes, the stream generator in a third, the gateway's memory sampled throughout. */
import { join } from "node:path";
import { stringify } from "yaml";
import {
  type GroupChild,
  openFiles,
  rssBytes,
  runJsonChild,
  softLimitFor,
  spawnMain,
  startSims,
} from "./processes.ts";
import { type IdleRss, idleRss } from "./settle.ts";
import type { StreamsResult } from "./streams.ts";
import type { GatewaySample } from "./summary.ts";

/** The served model name of the benchmark's replicas. */
export const SOAK_MODEL = "soak-sim";

/** Settings of {@linkcode runSoak}. */
export interface SoakOptions {
  /** Streams held open at once. */
  concurrency: number;
  /** Seconds the streams are held. */
  durationS: number;
  /** Seconds over which the streams are first opened. */
  rampS: number;
  /** Simulated replicas, one process each. */
  replicas: number;
  /** Real ms between two tokens of a stream (the replicas' slow-token fault sets it). */
  tokenMs: number;
  /** Tokens per stream: a stream lasts about `maxTokens * tokenMs`. */
  maxTokens: number;
  /** Every this many-th stream goes straight to a replica; 0 for none. */
  directEvery: number;
  /** Seconds between samples of the gateway's memory. */
  sampleS: number;
  /** Most seconds to wait, before the load, for the idle gateway's RSS to settle; 0 for none. */
  idleSettleS: number;
  /** V8 flags of the gateway process alone (`deno run --v8-flags=...`); empty for none. */
  gatewayV8Flags: string;
}

/** What {@linkcode runSoak} measured. */
export interface SoakRun {
  streams: StreamsResult;
  gateway: GatewaySample[];
  /** The gateway's RSS before any load: once healthy, and once settled. */
  idle: IdleRss;
  /** The open-files soft limit the children got, when it had to be raised. */
  raisedNofile: number | undefined;
  /** CPU seconds each process used. */
  cpuS: { gateway: number | undefined; replicas: number[] };
}

/** CPU seconds (user plus system) of process `pid`, from `/proc/<pid>/stat`. */
function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** Sum of `in_flight` over the gateway's backends; undefined when it does not answer. */
async function inFlightOf(url: string): Promise<number | undefined> {
  try {
    const res = await fetch(`${url}/api/backends`, { signal: AbortSignal.timeout(2_000) });
    const body = await res.json() as { backends: { in_flight: number }[] };
    return body.backends.reduce((sum, b) => sum + b.in_flight, 0);
  } catch {
    return undefined;
  }
}

/** Waits until the gateway's `/health` counts `replicas` healthy backends. */
async function waitHealthy(url: string, replicas: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
      const body = await res.json() as { models?: { healthy?: number }[] };
      if ((body.models ?? []).some((m) => (m.healthy ?? 0) >= replicas)) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`The gateway at ${url} did not see ${replicas} healthy replicas in time`);
}

/** Runs the soak with `options`; every process it started is stopped before it returns. */
export async function runSoak(options: SoakOptions): Promise<SoakRun> {
  // The gateway holds a client and an upstream connection per stream; the generator one each.
  const nofile = softLimitFor(2 * options.concurrency + 512);
  const dir = await Deno.makeTempDir({ prefix: "turnpike-bench-soak-" });
  const children: GroupChild[] = [];
  try {
    const perReplica = Math.ceil(options.concurrency / options.replicas);
    // Every stream runs at once: no waiting queue at the replica.
    const maxNumSeqs = Math.max(256, 2 * perReplica);
    const replicaUrls = await startSims(options.replicas, {
      model: SOAK_MODEL,
      children,
      extraArgs: () => [
        "--max-num-seqs",
        String(maxNumSeqs),
        // A decode step of this batch takes a few simulated ms; the fault stretches it to tokenMs.
        "--slow-token-ms",
        String(Math.max(0, options.tokenMs - 10)),
      ],
      nofile,
    });
    const configPath = join(dir, "turnpike.yaml");
    await Deno.writeTextFile(
      configPath,
      stringify({
        proxy: {
          host: "127.0.0.1",
          health_check_interval: 5,
          metrics_scrape_interval: 2,
          // Enough pooled connections that no stream waits for one: this is no overload test.
          max_connections_per_backend: Math.max(512, 2 * perReplica),
        },
        // The replicas' slow tokens are the load's shape, not overload: admission caps each at
        // its max_num_seqs and neither adapts that cap to the slow TTFT nor sheds.
        admission: { max_in_flight_per_replica: maxNumSeqs, adaptive: false, shed_early: false },
        models: [{ name: SOAK_MODEL, endpoints: replicaUrls }],
        state_dir: join(dir, "state"),
      }),
    );
    const gateway = spawnMain(
      ["serve", "--config", configPath, "--port", "0"],
      "the gateway",
      {
        nofile,
        runFlags: options.gatewayV8Flags === "" ? [] : [`--v8-flags=${options.gatewayV8Flags}`],
      },
    );
    children.push(gateway);
    const gatewayUrl =
      (await gateway.waitForLine(/listening on (http:\/\/[\d.]+:\d+)/, 60_000))[1]!;
    await waitHealthy(gatewayUrl, options.replicas, 30_000);
    const idle = await idleRss(gateway.pid, options.idleSettleS, options.sampleS);

    const samples: GatewaySample[] = [];
    const t0 = performance.now();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const rss = rssBytes(gateway.pid);
        if (rss === undefined) break;
        const inFlight = await inFlightOf(gatewayUrl);
        samples.push({
          atS: (performance.now() - t0) / 1000,
          rssBytes: rss,
          openFiles: openFiles(gateway.pid),
          inFlight,
        });
        await new Promise((r) => setTimeout(r, options.sampleS * 1000));
      }
    })();
    let streams: StreamsResult;
    try {
      streams = await runJsonChild<StreamsResult>(
        "bench/soak/streams.ts",
        [
          `--gateway=${gatewayUrl}/v1/chat/completions`,
          ...replicaUrls.map((u) => `--direct=${u}/v1/chat/completions`),
          `--concurrency=${options.concurrency}`,
          `--duration=${options.rampS + options.durationS}`,
          `--ramp=${options.rampS}`,
          `--model=${SOAK_MODEL}`,
          `--max-tokens=${options.maxTokens}`,
          `--direct-every=${options.directEvery}`,
          `--jitter-ms=${options.tokenMs}`,
        ],
        "The soak stream generator",
        { nofile },
      );
    } finally {
      sampling = false;
      await sampler;
    }
    return {
      streams,
      gateway: samples,
      idle,
      raisedNofile: nofile,
      cpuS: {
        gateway: cpuSeconds(gateway.pid),
        replicas: children.slice(0, options.replicas).map((c) => cpuSeconds(c.pid) ?? NaN),
      },
    };
  } finally {
    for (const child of children.reverse()) await child.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

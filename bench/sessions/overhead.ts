/**
 * Target 1 of `bench sessions`: what a session turn adds over the same plain chat completion, at
 * many concurrent sessions against a zero-latency backend, durable commit included.
 */
import { join } from "node:path";
import { freePort } from "../../cluster/mod.ts";
import {
  pinned,
  runJsonScript,
  type Service,
  startService,
  startZeroLatencyBackend,
  waitHttp,
} from "../proxy/services.ts";
import { medianOf } from "./verdicts.ts";
import type { PathResult, TurnLoadResult } from "./turn_load.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

/** Settings of {@linkcode measureOverhead}. */
export interface OverheadOptions {
  concurrency: number;
  durationS: number;
  warmupS: number;
  rounds: number;
  turnsPerSession: number;
  userChars: number;
  /** `json`, `sse` or both. */
  modes: readonly ("json" | "sse")[];
  /** Load shapes: each client's mean pause between turns, in ms (0: closed loop, saturating). */
  thinkMs: readonly number[];
  /** Folder of the gateway's state (its KV file); a temporary folder when absent. */
  stateDir?: string | undefined;
  /** Extra arguments of `deno run` for the gateway, e.g. `--cpu-prof`. */
  gatewayDenoArgs?: readonly string[];
  /** The CPUs the gateway may run on, as taskset's list ("0", "0,1"); the backend stays on 0. */
  gatewayCpus?: string;
}

/** Both paths of one mode, medians over the rounds. */
export interface OverheadRun {
  mode: "json" | "sse";
  concurrency: number;
  /** Each client's mean pause between turns, in ms. */
  thinkMs: number;
  /** Requests per second of both paths together, medians over the rounds. */
  rps: number;
  session: { requests: number; errors: number; p50Ms: number; p99Ms: number; meanMs: number };
  plain: { requests: number; errors: number; p50Ms: number; p99Ms: number; meanMs: number };
  addedP50Ms: number;
  addedP99Ms: number;
  /** Per round, for judging the spread. */
  rounds: TurnLoadResult[];
}

async function load(
  base: string,
  options: OverheadOptions,
  stream: boolean,
  durationS: number,
  thinkMs: number,
): Promise<TurnLoadResult> {
  const result = await runJsonScript<TurnLoadResult>("1", "bench/sessions/turn_load.ts", [
    `--url=${base}`,
    `--concurrency=${options.concurrency}`,
    `--duration=${durationS}`,
    `--warmup=${options.warmupS}`,
    `--turns-per-session=${options.turnsPerSession}`,
    `--user-chars=${options.userChars}`,
    `--think=${thinkMs}`,
    ...(stream ? ["--stream"] : []),
  ], "The turn load generator");
  if (result.firstError) console.error(`turn load: first error: ${result.firstError}`);
  return result;
}

function figures(results: PathResult[]) {
  return {
    requests: results.reduce((s, r) => s + r.requests, 0),
    errors: results.reduce((s, r) => s + r.errors, 0),
    p50Ms: medianOf(results.map((r) => r.latencyMs.p50)),
    p99Ms: medianOf(results.map((r) => r.latencyMs.p99)),
    meanMs: medianOf(results.map((r) => r.latencyMs.mean)),
  };
}

/**
 * Starts a zero-latency backend (its own process, on CPU 0) and a gateway (its own process, on
 * `gatewayCpus`, CPU 0 by default) and measures.
 */
export async function measureOverhead(options: OverheadOptions): Promise<OverheadRun[]> {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-bench-sessions-" });
  const stateDir = options.stateDir === undefined
    ? join(dir, "state")
    : await Deno.makeTempDir({ dir: options.stateDir, prefix: "turnpike-bench-sessions-" });
  const services: Service[] = [];
  try {
    const upstream = await startZeroLatencyBackend();
    services.push(upstream);
    const port = freePort();
    const configPath = join(dir, "turnpike.yaml");
    await Deno.writeTextFile(
      configPath,
      [
        `proxy: {host: 127.0.0.1, port: ${port}}`,
        `models: [{name: bench, endpoints: ["http://127.0.0.1:${upstream.port}"]}]`,
        `state_dir: ${stateDir}`,
        "",
      ].join("\n"),
    );
    const gateway = await startService(
      pinned(options.gatewayCpus ?? "0", [
        Deno.execPath(),
        "run",
        "-A",
        ...(options.gatewayDenoArgs ?? []),
        join(ROOT, "main.ts"),
        "serve",
        "--config",
        configPath,
      ]),
      "the gateway",
    );
    services.push(gateway);
    const base = `http://127.0.0.1:${gateway.port}`;
    await waitHttp(`${base}/v1/models`, (_res, text) => text.includes('"healthy":1'), 15_000);
    // Both paths run until the JIT has compiled them before anything is measured.
    for (const mode of options.modes) await load(base, options, mode === "sse", 2, 0);
    const runs: OverheadRun[] = [];
    for (const mode of options.modes) {
      for (const thinkMs of options.thinkMs) {
        const rounds: TurnLoadResult[] = [];
        for (let round = 0; round < options.rounds; round++) {
          const result = await load(base, options, mode === "sse", options.durationS, thinkMs);
          rounds.push(result);
          const s = result.session.latencyMs;
          const p = result.plain.latencyMs;
          console.error(
            `overhead ${mode} c=${options.concurrency} think ${thinkMs} ms round ${round + 1}: ` +
              `session p50 ${s.p50.toFixed(3)} p99 ${s.p99.toFixed(3)} ms, ` +
              `plain p50 ${p.p50.toFixed(3)} p99 ${p.p99.toFixed(3)} ms ` +
              `(${result.session.requests}+${result.plain.requests} requests, ${
                result.session.errors + result.plain.errors
              } errors)`,
          );
        }
        runs.push({
          mode,
          concurrency: options.concurrency,
          thinkMs,
          rps: medianOf(
            rounds.map((r) => (r.session.requests + r.plain.requests) / options.durationS),
          ),
          session: figures(rounds.map((r) => r.session)),
          plain: figures(rounds.map((r) => r.plain)),
          addedP50Ms: medianOf(
            rounds.map((r) => r.session.latencyMs.p50 - r.plain.latencyMs.p50),
          ),
          addedP99Ms: medianOf(
            rounds.map((r) => r.session.latencyMs.p99 - r.plain.latencyMs.p99),
          ),
          rounds,
        });
      }
    }
    return runs;
  } finally {
    for (const service of services.reverse()) await service.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    if (options.stateDir !== undefined) {
      await Deno.remove(stateDir, { recursive: true }).catch(() => {});
    }
  }
}

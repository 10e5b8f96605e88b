/** `deno task bench sim`: the simulator against the H100 calibration table, and its lag on a trace replay. */
import type { BenchSuite } from "./command.ts";
import { numberFlag, parseFlags, UsageError } from "../config/mod.ts";
import { type CalibrationRow, calibrationRows, chunkedPrefillRows } from "../sim/mod.ts";
import { type ReplayReport, replayTrace } from "../sim/mod.ts";
import { parseTrace } from "../sim/mod.ts";
import { measureStreams, type StreamsReport } from "../sim/mod.ts";
import { replayTraceHttp } from "../sim/mod.ts";
import { spawnSim } from "../sim/mod.ts";
import { DEFAULT_SIM_MODEL } from "../sim/mod.ts";

const DEFAULT_TRACE = new URL("../../shared/traces/mooncake-synthetic.jsonl", import.meta.url);
const TOLERANCE = 0.1;

const usage = [
  "Usage: deno task bench sim [options]",
  "",
  "Prints the simulator's prefill (TTFT) and decode step times next to calibration.md, with the",
  "error of each row (must be within 10%). Optional heavier checks:",
  "",
  "  --trace                replay the Mooncake trace into in-process replicas on a real clock and",
  "                         report how far the engine's step loop lags behind its scaled clock",
  "  --trace-file PATH      trace to replay [../shared/traces/mooncake-synthetic.jsonl]",
  "  --trace-seconds S      trace seconds to replay (whole trace is ~1022) [1022]",
  "  --time-scale F         time scale of the replay and the streams check [10]",
  "  --replicas N           in-process replicas [4]",
  "  --http                 with --trace: replay over HTTP against `deno task sim --replicas N` in a",
  "                         child process (approx tokenizer) and report its step lag and CPU time",
  "  --streams N            hold N concurrent SSE streams over HTTP on one replica and report [0]",
].join("\n");

const flags = {
  trace: { type: "boolean" },
  http: { type: "boolean" },
  "trace-file": { type: "string" },
  "trace-seconds": { type: "string" },
  "time-scale": { type: "string" },
  replicas: { type: "string" },
  streams: { type: "string" },
} as const;

function printRows(title: string, rows: readonly CalibrationRow[], judged: boolean): void {
  console.log(`\n${title}`);
  console.log(
    `${"case".padEnd(30)} ${"reference ms".padStart(12)} ${"sim ms".padStart(10)} ${
      "error".padStart(8)
    }`,
  );
  for (const r of rows) {
    const flag = !judged || Math.abs(r.error) <= TOLERANCE ? "" : "  OUT OF TOLERANCE";
    console.log(
      `${r.name.padEnd(30)} ${r.referenceMs.toFixed(2).padStart(12)} ${
        r.simulatedMs.toFixed(2).padStart(10)
      } ${(r.error * 100).toFixed(1).padStart(7)}%${flag}`,
    );
  }
}

function printReplay(r: ReplayReport, timeScale: number): void {
  const f = (n: number) => n.toFixed(1);
  console.log(
    `\nTrace replay at time scale ${timeScale}: ${r.sent} requests, ${r.finished} finished, ${r.rejected} refused (too long), ` +
      `${(r.simulatedMs / 1000).toFixed(0)} s simulated in ${
        (r.realMs / 1000).toFixed(1)
      } s real, ${r.steps} steps`,
  );
  console.log(
    `  step lag (simulated ms): p50 ${f(r.stepLagMs.p50)}  p99 ${f(r.stepLagMs.p99)}  max ${
      f(r.stepLagMs.max)
    }  ` +
      `(real ms: p50 ${f(r.stepLagMs.p50 / timeScale)}, max ${f(r.stepLagMs.max / timeScale)})`,
  );
  console.log(
    `  arrival lag (simulated ms): p50 ${f(r.arrivalLagMs.p50)}  p99 ${
      f(r.arrivalLagMs.p99)
    }  max ${f(r.arrivalLagMs.max)}`,
  );
  console.log(
    `  TTFT (simulated ms): p50 ${f(r.ttftMs.p50)}  p99 ${f(r.ttftMs.p99)};  prefix hit rate ` +
      `${(r.prefixHitRate * 100).toFixed(1)}%;  preemptions ${r.preemptions}`,
  );
}

async function writeResults(result: Record<string, unknown>): Promise<string> {
  const dir = new URL("./results/", import.meta.url);
  await Deno.mkdir(dir, { recursive: true });
  const stamp = new Date().toISOString().replaceAll(":", "-").replace(/\.\d+Z$/, "Z");
  const text = JSON.stringify(result, null, 2) + "\n";
  const file = new URL(`sim-${stamp}.json`, dir);
  await Deno.writeTextFile(file, text);
  await Deno.writeTextFile(new URL("sim-latest.json", dir), text);
  return file.pathname;
}

function cpuSeconds(pid: number): number {
  // utime and stime are fields 14 and 15 of /proc/PID/stat, in clock ticks (100 a second).
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function scrapeLag(url: string): Promise<{ maxS: number; sumS: number; steps: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) =>
    Number(text.match(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, "m"))?.[1] ?? NaN);
  return {
    maxS: value("sim:step_lag_seconds_max"),
    sumS: value("sim:step_lag_seconds_total"),
    steps: value("sim:steps_total"),
  };
}

/** Runs `sim --replicas N` as a child process and replays the trace at it over HTTP. */
async function httpTrace(
  records: Parameters<typeof replayTraceHttp>[0],
  replicas: number,
  timeScale: number,
  traceMs: number | undefined,
): Promise<Record<string, unknown>> {
  const sim = await spawnSim([
    "--base-port",
    "0",
    "--time-scale",
    String(timeScale),
    "--tokenizer",
    "approx",
  ], { replicas });
  const urls = sim.urls;
  try {
    const cpuBefore = cpuSeconds(sim.pid);
    const client = await replayTraceHttp(records, {
      urls,
      model: DEFAULT_SIM_MODEL,
      timeScale,
      ...(traceMs === undefined ? {} : { traceMs }),
    });
    const cpu = cpuSeconds(sim.pid) - cpuBefore;
    const lags = await Promise.all(urls.map(scrapeLag));
    const steps = lags.reduce((n, l) => n + l.steps, 0);
    const report = {
      replicas,
      timeScale,
      ...client,
      simCpuSeconds: cpu,
      simCpuShare: cpu / (client.realMs / 1000),
      simStepLagMaxRealMs: Math.max(...lags.map((l) => l.maxS)) * 1000,
      simStepLagMeanRealMs: lags.reduce((n, l) => n + l.sumS, 0) / steps * 1000,
      simSteps: steps,
    };
    const f = (n: number) => n.toFixed(1);
    console.log(
      `\nHTTP trace replay against one sim process with ${replicas} replicas at time scale ${timeScale}: ` +
        `${client.sent} sent, ${client.completed} completed, ${client.rejected} refused (too long), ${client.failed} failed in ${
          f(client.realMs / 1000)
        } s`,
    );
    console.log(
      `  sim step lag (real ms): mean ${f(report.simStepLagMeanRealMs)}  max ${
        f(report.simStepLagMaxRealMs)
      };  ` +
        `sim CPU ${f(cpu)} s (${f(report.simCpuShare * 100)}% of one core)`,
    );
    console.log(
      `  client: send lag p99 ${f(client.sendLagMs.p99)} ms, TTFT p50 ${
        f(client.ttftMs.p50)
      } ms p99 ${f(client.ttftMs.p99)} ms (real)`,
    );
    return report;
  } finally {
    await sim.stop();
  }
}

/** `deno task bench sim`. */
export const simBench: BenchSuite = {
  name: "sim",
  summary: "simulator vs the H100 calibration (within 10%); --trace for engine lag on a replay",
  usage,
  async run(args) {
    const { values } = parseFlags(args, flags, usage);
    const timeScale = numberFlag(values["time-scale"], "time-scale", usage) ?? 10;
    const replicas = numberFlag(values.replicas, "replicas", usage) ?? 4;
    const traceSeconds = numberFlag(values["trace-seconds"], "trace-seconds", usage);
    const streams = numberFlag(values.streams, "streams", usage) ?? 0;
    if (!(timeScale > 0) || !Number.isInteger(replicas) || replicas < 1 || streams < 0) {
      throw new UsageError(
        "--time-scale must be positive, --replicas a positive integer, --streams not negative",
        usage,
      );
    }
    const rows = calibrationRows();
    const chunked = chunkedPrefillRows();
    printRows(
      "Calibration (one H100, Llama-3.1-8B shape; prefill rows as one forward pass)",
      rows,
      true,
    );
    printRows(
      "For reference, not a calibration row: long prompts under the default chunked prefill",
      chunked,
      false,
    );
    const pass = rows.every((r) => Math.abs(r.error) <= TOLERANCE);
    console.log(
      `\n${pass ? "PASS" : "FAIL"}: ${
        rows.filter((r) => Math.abs(r.error) <= TOLERANCE).length
      }/${rows.length} rows within 10%`,
    );
    const result: Record<string, unknown> = {
      suite: "sim",
      at: new Date().toISOString(),
      tolerance: TOLERANCE,
      pass,
      calibration: rows,
      chunkedPrefill: chunked,
    };
    if (values.trace) {
      const file = values["trace-file"] ?? DEFAULT_TRACE;
      const records = parseTrace(await Deno.readTextFile(file));
      const replayOptions = {
        replicas,
        timeScale,
        ...(traceSeconds === undefined ? {} : { traceMs: traceSeconds * 1000 }),
      };
      if (values.http) {
        result.httpTrace = await httpTrace(records, replicas, timeScale, replayOptions.traceMs);
      } else {
        const report = await replayTrace(records, replayOptions);
        printReplay(report, timeScale);
        result.trace = { file: String(file), ...replayOptions, ...report };
      }
    }
    if (streams > 0) {
      const report: StreamsReport = await measureStreams(streams, { timeScale });
      console.log(
        `\n${streams} concurrent streams at time scale ${timeScale}: ${report.completed} completed, ` +
          `${report.failed} failed, peak running ${report.peakRunning}, step lag max ${
            report.stepLagMaxMs.toFixed(1)
          } simulated ms, ` +
          `${(report.realMs / 1000).toFixed(1)} s`,
      );
      result.streams = report;
    }
    console.log(`\nWrote ${await writeResults(result)}`);
    return pass ? 0 : 1;
  },
};

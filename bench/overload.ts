/** `deno task bench overload`: open-loop Poisson load from half to three times a fleet's capacity through a gateway: goodput, TTFT, shedding, timeouts, circuits. */
import { alignedTable } from "./table.ts";
import { dirname } from "node:path";
import { numberFlag, parseFlags, UsageError } from "../config/mod.ts";
import type { BenchSuite } from "./command.ts";
import { passFail } from "./sessions/verdicts.ts";
import { type OverloadOptions, runOverload } from "./overload/run.ts";
import {
  type LevelFigures,
  OVERLOAD_TARGETS,
  overloadVerdicts,
  type RunFigures,
  runFigures,
} from "./overload/summary.ts";
import { type PlotSeries, renderOverloadSvg, renderPng } from "./overload/plot.ts";

const DEFAULT_OUT = new URL("./results/overload-latest.json", import.meta.url).pathname;

const usage = [
  "Usage: deno task bench overload [options]",
  "",
  "Measures the fleet's capacity with a closed-loop run (clients with no think time), then offers",
  "open-loop Poisson arrivals of agentic streaming requests (long prompts, no shared prefix) at",
  "multiples of it through a gateway process to simulated replicas (one process each, the",
  "calibrated latency model sped up by --time-scale). Per level: goodput, TTFT of admitted",
  "requests, refusals (429/503 with Retry-After) and how fast they came, 504s, other errors, and",
  "circuits opened (polled from /api/backends). Target: up to 3x capacity, goodput within 10% of",
  "capacity, p99 TTFT within 2x of that at 0.8x, every refusal prompt and clear, no circuit open.",
  "",
  "Options:",
  "  --levels LIST         offered loads, multiples of capacity [0.5,0.8,1,1.5,2,3]",
  "  --duration S          real seconds of load per level and of the capacity run [30]",
  "  --warmup S            real seconds at the start of each left out of the figures [5]",
  "  --grace S             real seconds open requests may take after a level [20]",
  "  --time-scale F        simulated ms per real ms of the replicas [10]",
  "  --replicas N          simulated replicas [2]",
  "  --prompt-tokens N     prompt tokens per request [15000]",
  "  --max-tokens N        tokens generated per request [64]",
  "  --capacity-clients N  closed-loop clients of the capacity run [16 per replica]",
  "  --gateway-config FILE YAML sections merged into the gateway's config (e.g. admission:)",
  "  --baseline FILE       an earlier overload JSON drawn beside this run (e.g. before admission)",
  "  --label TEXT          this run's name in the plot [this run]",
  "  --seed N              seed of the arrival times [1]",
  "  --out FILE            the JSON; the SVG and PNG go beside it [bench/results/overload-latest.json]",
].join("\n");

const flags = {
  levels: { type: "string" },
  duration: { type: "string" },
  warmup: { type: "string" },
  grace: { type: "string" },
  "time-scale": { type: "string" },
  replicas: { type: "string" },
  "prompt-tokens": { type: "string" },
  "max-tokens": { type: "string" },
  "capacity-clients": { type: "string" },
  "gateway-config": { type: "string" },
  baseline: { type: "string" },
  label: { type: "string" },
  seed: { type: "string" },
  out: { type: "string" },
} as const;

/** Parsed `bench overload` command line. */
export interface OverloadPlan extends OverloadOptions {
  baseline: string | undefined;
  label: string;
  out: string;
}

/** Parses the `bench overload` arguments; throws a UsageError on a bad command line. */
export function parseOverloadArgs(args: string[]): OverloadPlan {
  const { values } = parseFlags(args, flags, usage);
  const positive = (name: keyof typeof flags, fallback: number, integer: boolean) => {
    const value = numberFlag(values[name] as string | undefined, name, usage) ?? fallback;
    if (!(value > 0) || (integer && !Number.isInteger(value))) {
      throw new UsageError(`--${name} must be a positive ${integer ? "integer" : "number"}`, usage);
    }
    return value;
  };
  const levels = (values.levels ?? "0.5,0.8,1,1.5,2,3").split(",").map((item) => {
    const load = Number(item.trim());
    if (!(load > 0)) {
      throw new UsageError(`--levels has "${item}": give positive multiples of capacity`, usage);
    }
    return load;
  });
  const durationS = positive("duration", 30, false);
  const warmupS = numberFlag(values.warmup, "warmup", usage) ?? 5;
  if (!(warmupS >= 0 && warmupS < durationS)) {
    throw new UsageError("--warmup must be 0 or more and shorter than --duration", usage);
  }
  const replicas = positive("replicas", 2, true);
  return {
    levels,
    durationS,
    warmupS,
    graceS: numberFlag(values.grace, "grace", usage) ?? 20,
    timeScale: positive("time-scale", 10, false),
    replicas,
    promptTokens: positive("prompt-tokens", 15_000, true),
    maxTokens: positive("max-tokens", 64, true),
    capacityClients: positive("capacity-clients", 16 * replicas, true),
    gatewayConfig: values["gateway-config"],
    baseline: values.baseline,
    label: values.label ?? "this run",
    seed: numberFlag(values.seed, "seed", usage) ?? 1,
    out: values.out ?? DEFAULT_OUT,
  };
}

function fmt(n: number | undefined, digits = 1): string {
  return n === undefined || !Number.isFinite(n) ? "-" : n.toFixed(digits);
}

/** The terminal table: the capacity run, then one row per level with its verdicts. */
export function overloadTable(
  capacity: RunFigures,
  capacityPerS: number,
  levels: readonly LevelFigures[],
): string {
  const v = overloadVerdicts(levels, capacityPerS);
  const header = [
    "load",
    "offered/s",
    "sent",
    "goodput/s",
    "tok/s",
    "TTFT p50",
    "p99",
    "shed",
    "clear",
    "reject p99",
    "504",
    "other",
    "gave up",
    "circuits",
    "goodput",
    "ttft",
    "refusals",
    "no open",
  ];
  const rows = levels.map((l, i) => {
    const lv = v.perLevel[i]!;
    return [
      `${l.load}x`,
      fmt(l.offeredPerS, 2),
      String(l.sent),
      fmt(l.goodputPerS, 2),
      fmt(l.tokensPerS, 0),
      fmt(l.ttftMs.p50, 0),
      fmt(l.ttftMs.p99, 0),
      String(l.shed),
      String(l.shedClear),
      fmt(l.rejectMs.p99, 1),
      String(l.timeouts),
      String(l.otherErrors),
      String(l.abandoned),
      String(l.circuits.opened),
      lv.goodput === undefined ? "-" : passFail(lv.goodput),
      passFail(lv.ttft),
      passFail(lv.rejections),
      passFail(lv.circuits),
    ];
  });
  const examples = [...new Set(levels.flatMap((l) => l.examples))].slice(0, 6);
  return [
    `Capacity (closed loop): ${fmt(capacityPerS, 2)} req/s, ${
      fmt(capacity.tokensPerS, 0)
    } tok/s, TTFT p50 ${fmt(capacity.ttftMs.p50, 0)} / p99 ${
      fmt(capacity.ttftMs.p99, 0)
    } ms, errors ${capacity.timeouts + capacity.otherErrors + capacity.shed}`,
    "",
    ...alignedTable(header, rows),
    "",
    "TTFT and reject times in ms of real time, of requests sent after the warm-up; goodput counts",
    "successes that ended in that window. shed: 429/503; clear: with Retry-After and an OpenAI body.",
    "",
    "Targets (up to 3x capacity):",
    `  goodput >= ${OVERLOAD_TARGETS.goodputShare * 100}% of capacity at 1x and above: ${
      passFail(v.goodput)
    }`,
    `  p99 TTFT of admitted requests <= ${OVERLOAD_TARGETS.ttftP99Factor}x the p99 at ${
      v.referenceLoad ?? "-"
    }x (${fmt(v.referenceTtftP99Ms, 0)} ms): ${passFail(v.ttft)}`,
    `  every unserved request refused at once and clearly (429/503, Retry-After, OpenAI body, ` +
    `p99 no slower than the reference TTFT; no 504, error or abandoned request): ${
      passFail(v.rejections)
    }`,
    `  no replica's circuit opens: ${passFail(v.circuits)}`,
    ...(examples.length > 0 ? ["", "Failures and refusals seen:", ...examples] : []),
  ].join("\n");
}

interface SavedResult {
  label?: string;
  levels: LevelFigures[];
}

/** `deno task bench overload`. */
export const overloadBench: BenchSuite = {
  name: "overload",
  summary: "0.5x to 3x a fleet's capacity through a gateway: goodput, TTFT, shedding, circuits",
  usage,
  async run(args) {
    const plan = parseOverloadArgs(args);
    const baseline = plan.baseline === undefined
      ? undefined
      : JSON.parse(await Deno.readTextFile(plan.baseline)) as SavedResult;
    console.error(
      `overload: capacity run and ${plan.levels.length} levels of ${plan.durationS} s each...`,
    );
    const run = await runOverload(plan, (text) => console.error(`overload: ${text}`));
    const window = { fromS: plan.warmupS, toS: plan.durationS };
    const capacity = runFigures(run.capacity.samples, window);
    const levels: LevelFigures[] = run.levels.map((l) => ({
      load: l.load,
      offeredPerS: l.offeredPerS,
      ...runFigures(l.samples, window),
      circuits: l.circuits,
    }));
    console.log(overloadTable(capacity, run.capacityPerS, levels));
    const verdicts = overloadVerdicts(levels, run.capacityPerS);
    const result = {
      suite: "overload",
      at: new Date().toISOString(),
      label: plan.label,
      machine: { cpus: navigator.hardwareConcurrency, deno: Deno.version.deno },
      settings: plan,
      targets: OVERLOAD_TARGETS,
      capacityPerS: run.capacityPerS,
      capacity: { ...capacity, circuits: run.capacity.circuits },
      levels,
      verdicts,
    };
    await Deno.mkdir(dirname(plan.out), { recursive: true });
    await Deno.writeTextFile(plan.out, JSON.stringify(result, null, 2) + "\n");
    const series: PlotSeries[] = [{
      label: plan.label,
      points: levels.map((l) => ({
        load: l.load,
        goodputPerS: l.goodputPerS,
        ttftP99Ms: l.ttftMs.p99,
      })),
    }];
    if (baseline) {
      series.push({
        label: baseline.label ?? plan.baseline!,
        points: baseline.levels.map((l) => ({
          load: l.load,
          goodputPerS: l.goodputPerS,
          ttftP99Ms: l.ttftMs.p99,
        })),
      });
    }
    const svgPath = plan.out.replace(/\.json$/, "") + ".svg";
    await Deno.writeTextFile(
      svgPath,
      renderOverloadSvg(series, {
        subtitle: `${plan.replicas} simulated replicas (time scale ${plan.timeScale}), ` +
          `${plan.promptTokens}-token prompts, ${plan.maxTokens} output tokens, ` +
          `capacity ${run.capacityPerS.toFixed(2)} req/s, ${plan.durationS} s a level`,
        capacityPerS: run.capacityPerS,
        referenceTtftP99Ms: verdicts.referenceTtftP99Ms,
        referenceLoad: verdicts.referenceLoad,
      }),
    );
    const png = await renderPng(svgPath);
    console.log(`\nWrote ${plan.out}, ${svgPath}${png ? `, ${png}` : ""}`);
    return 0;
  },
};

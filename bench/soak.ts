/** `deno task bench soak`: many long-lived streams through a gateway process for a minute: errors, added latency, and whether its memory stays flat. */
import { dirname } from "node:path";
import { numberFlag, parseFlags, UsageError } from "../config/mod.ts";
import type { BenchSuite } from "./command.ts";
import { serveTaskV8Flags } from "./soak/processes.ts";
import { runSoak, type SoakOptions, type SoakRun } from "./soak/run.ts";
import type { IdleRss } from "./soak/settle.ts";
import { SOAK_TARGETS, type SoakFigures, soakFigures, soakVerdicts } from "./soak/summary.ts";
import { passFail } from "./sessions/verdicts.ts";

const DEFAULT_OUT = new URL("./results/soak-latest.json", import.meta.url).pathname;

const usage = [
  "Usage: deno task bench soak [options]",
  "",
  "Holds many concurrent streaming chat completions open through a gateway process to simulated",
  "replicas (one process each), each stream replaced the moment it ends, and reports errors, the",
  "latency the gateway adds, and its resident memory (VmRSS) sampled over the run. Targets: no",
  `errors, RSS under ${SOAK_TARGETS.maxRssMb} MB, and the mean RSS of the last third of the run`,
  `within ${SOAK_TARGETS.rssGrowth * 100}% of the first third's.`,
  "",
  "Added latency is measured per stream: the response head's time at the client minus the",
  "upstream's part the gateway reports (server-timing upstream;dur). Streams sent straight to a",
  "replica at the same time give the reference TTFT and the client's own share.",
  "",
  "Options:",
  "  --concurrency N   streams held open at once [1000]",
  "  --duration S      seconds they are held, after the ramp [60]",
  "  --ramp S          seconds over which they are first opened [5]",
  "  --replicas N      simulated replicas; 4 keep 250 streams each, under vLLM's default",
  "                    max_num_seqs of 256, at which admission caps a replica [4]",
  "  --token-ms MS     real ms between a stream's tokens [250]",
  "  --max-tokens N    tokens per stream; a stream lasts about max-tokens x token-ms [40]",
  "  --direct-every N  every N-th stream goes straight to a replica, 0 for none [20]",
  "  --sample S        seconds between memory samples [1]",
  "  --idle-settle S   seconds the idle gateway's RSS is watched before the load: V8's memory",
  "                    reducer frees start-up garbage ~30 s after start; 0 for none [40]",
  "  --gateway-v8-flags F  V8 flags of the gateway process alone, comma-separated (as",
  '                    `deno run --v8-flags=F`); "" for none [the serve task\'s]',
  "  --out FILE        where the JSON goes [bench/results/soak-latest.json]",
].join("\n");

const flags = {
  concurrency: { type: "string" },
  duration: { type: "string" },
  ramp: { type: "string" },
  replicas: { type: "string" },
  "token-ms": { type: "string" },
  "max-tokens": { type: "string" },
  "direct-every": { type: "string" },
  sample: { type: "string" },
  "idle-settle": { type: "string" },
  "gateway-v8-flags": { type: "string" },
  out: { type: "string" },
} as const;

/** Parsed `bench soak` command line. */
export interface SoakPlan extends SoakOptions {
  /** The JSON file written. */
  out: string;
}

/** Parses the `bench soak` arguments; throws a UsageError on a bad command line. */
export function parseSoakArgs(args: string[]): SoakPlan {
  const { values } = parseFlags(args, flags, usage);
  const number = (name: keyof typeof flags, fallback: number, check: "int" | "pos" | "nonneg") => {
    const value = numberFlag(values[name], name, usage) ?? fallback;
    const ok = check === "int"
      ? Number.isInteger(value) && value > 0
      : check === "pos"
      ? value > 0
      : Number.isInteger(value) && value >= 0;
    if (!ok) {
      const what = check === "int"
        ? "a positive integer"
        : check === "pos"
        ? "a positive number"
        : "an integer, 0 or more";
      throw new UsageError(`--${name} must be ${what}`, usage);
    }
    return value;
  };
  return {
    concurrency: number("concurrency", 1_000, "int"),
    durationS: number("duration", 60, "pos"),
    rampS: number("ramp", 5, "pos"),
    replicas: number("replicas", 4, "int"),
    tokenMs: number("token-ms", 250, "pos"),
    maxTokens: number("max-tokens", 40, "int"),
    directEvery: number("direct-every", 20, "nonneg"),
    sampleS: number("sample", 1, "pos"),
    idleSettleS: number("idle-settle", 40, "nonneg"),
    gatewayV8Flags: values["gateway-v8-flags"] ?? serveTaskV8Flags(),
    out: values.out ?? DEFAULT_OUT,
  };
}

function fmt(n: number | undefined, digits = 1): string {
  return n === undefined || !Number.isFinite(n) ? "-" : n.toFixed(digits);
}

/** The terminal table of a soak run. */
export function soakTable(
  f: SoakFigures,
  plan: SoakOptions,
  idle: IdleRss,
): string {
  const v = soakVerdicts(f);
  const rows: [string, string, string][] = [
    ["streams through the gateway / direct", `${f.streams.gateway} / ${f.streams.direct}`, ""],
    ["streams held open on average (client side, both paths)", fmt(f.heldStreams), ""],
    [
      "most requests in flight the gateway reported",
      f.maxInFlight === undefined ? "-" : String(f.maxInFlight),
      "",
    ],
    ["errors through the gateway", String(f.errors.gateway), passFail(v.errors)],
    ["errors direct", String(f.errors.direct), ""],
    [
      "added latency p50 / p99 ms (head at client - upstream;dur)",
      `${fmt(f.addedHeadMs.p50, 2)} / ${fmt(f.addedHeadMs.p99, 2)}`,
      "",
    ],
    [
      "direct head p50 / p99 ms (client and loopback alone)",
      `${fmt(f.directHeadMs.p50, 2)} / ${fmt(f.directHeadMs.p99, 2)}`,
      "",
    ],
    [
      "TTFT through the gateway p50 / p99 ms",
      `${fmt(f.ttftMs.gateway.p50)} / ${fmt(f.ttftMs.gateway.p99)}`,
      "",
    ],
    ["TTFT direct p50 / p99 ms", `${fmt(f.ttftMs.direct.p50)} / ${fmt(f.ttftMs.direct.p99)}`, ""],
    [
      "gateway RSS idle, the moment it is healthy MB",
      idle.atHealthyBytes === undefined ? "-" : fmt(idle.atHealthyBytes / 1e6),
      "",
    ],
    [
      plan.idleSettleS === 0
        ? "gateway RSS idle after a wait MB (no wait: --idle-settle 0)"
        : `gateway RSS idle after a ${fmt(idle.waitedS, 0)} s wait MB (mean of its last 5 s${
          idle.still ? "" : ", still moving"
        })`,
      idle.settledBytes === undefined ? "-" : fmt(idle.settledBytes / 1e6),
      "",
    ],
    [`gateway RSS max MB (< ${SOAK_TARGETS.maxRssMb})`, fmt(f.rss.maxMb), passFail(v.rss)],
    [
      `RSS first -> last third MB (growth <= ${SOAK_TARGETS.rssGrowth * 100}%)`,
      `${fmt(f.rss.firstThirdMb)} -> ${fmt(f.rss.lastThirdMb)} (${fmt(f.rss.growth * 100)}%)`,
      passFail(v.rssFlat),
    ],
    ["gateway open files max", f.maxOpenFiles === undefined ? "-" : String(f.maxOpenFiles), ""],
  ];
  const widths = [0, 1].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) =>
    `${r[0].padEnd(widths[0]!)}  ${r[1].padStart(widths[1]!)}  ${r[2]}`
  );
  return [
    `Soak: ${plan.concurrency} streams for ${plan.durationS} s (after a ${plan.rampS} s ramp), ` +
    `${plan.replicas} replicas, a token every ${plan.tokenMs} ms, ${plan.maxTokens} tokens a stream`,
    `Gateway V8 flags: ${plan.gatewayV8Flags === "" ? "none" : plan.gatewayV8Flags}`,
    "",
    ...lines,
    ...(f.errors.examples.length > 0 ? ["", "Errors seen:", ...f.errors.examples] : []),
  ].join("\n");
}

/** The figures and verdicts of a finished run, as the JSON file holds them. */
export function soakReport(run: SoakRun, plan: SoakPlan) {
  const figures = soakFigures(run.streams.samples, run.gateway, {
    steadyFromS: plan.rampS,
    steadyToS: plan.rampS + plan.durationS,
  });
  return { figures, verdicts: soakVerdicts(figures) };
}

/** `deno task bench soak`. */
export const soakBench: BenchSuite = {
  name: "soak",
  summary: "long-lived streams through a gateway process: errors, added latency, flat RSS",
  usage,
  async run(args) {
    const plan = parseSoakArgs(args);
    console.error(
      `soak: ${plan.concurrency} streams, ${plan.rampS} s ramp + ${plan.durationS} s...`,
    );
    const run = await runSoak(plan);
    const { figures, verdicts } = soakReport(run, plan);
    console.log(soakTable(figures, plan, run.idle));
    const result = {
      suite: "soak",
      at: new Date().toISOString(),
      machine: { cpus: navigator.hardwareConcurrency, deno: Deno.version.deno },
      settings: plan,
      targets: SOAK_TARGETS,
      figures,
      verdicts,
      idleRssBytes: run.idle.atHealthyBytes ?? null,
      idleSettled: {
        rssBytes: run.idle.settledBytes ?? null,
        afterS: run.idle.waitedS,
        still: run.idle.still,
      },
      raisedNofile: run.raisedNofile ?? null,
      cpuS: run.cpuS,
      gatewaySamples: run.gateway,
    };
    await Deno.mkdir(dirname(plan.out), { recursive: true });
    await Deno.writeTextFile(plan.out, JSON.stringify(result, null, 2) + "\n");
    console.log(`\nWrote ${plan.out}`);
    return 0;
  },
};

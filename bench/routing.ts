/** `deno task bench routing`: replays a multi-turn trace through the gateway once per routing strategy and compares them. */
import { numberFlag, parseFlags, UsageError } from "../config/mod.ts";
import { requestFeatures, STRATEGY_NAMES } from "../actors/router/mod.ts";
import type { BenchSuite } from "./command.ts";
import { generateMixedTrace, type MixedTraceOptions } from "./routing/generate.ts";
import type { StrategyRun } from "./routing/measure.ts";
import type { ReplayProgress } from "./routing/replay.ts";
import type { ReplayClient } from "./routing/stream_client.ts";
import { type CacheSetting, describeCache, formatTable, renderSvg } from "./routing/report.ts";
import {
  BASELINE,
  parseRunStrategy,
  runLabel,
  type RunStrategy,
  runStrategy,
  strategyLabel,
} from "./routing/run.ts";
import {
  compareFeedback,
  compareGateways,
  formatComparisons,
  runVariants,
} from "./routing/compare.ts";
import { runVirtualBench } from "./routing/virtual_bench.ts";
import { medianRun, rotated } from "./routing/rounds.ts";
import { virtualRun } from "./routing/virtual.ts";
import { cappedHitRate, idealHitRate } from "./routing/trace.ts";
import {
  formatRatios,
  PEER_STRATEGIES,
  peerTargets,
  ratiosTo,
  TURNPIKE_DEFAULT,
} from "./routing/ratios.ts";
import { parseTrace, promptText, type TraceRequest } from "../sim/mod.ts";
import { BENCH_MAX_MODEL_LEN, replicaCacheTokens } from "./routing/setup.ts";
import {
  BLOCK_TOKENS,
  DEFAULT_KV_TOKENS,
  DEFAULT_OFFLOAD_BANDWIDTH_BYTES_PER_S,
} from "../sim/mod.ts";

const DEFAULT_TRACE =
  new URL("../../shared/traces/mooncake-synthetic.jsonl", import.meta.url).pathname;
const RESULTS = new URL("./results/", import.meta.url).pathname;

/** The strategies run without `--strategies`: round robin, the peers, turnpike's default, the baseline. */
export const DEFAULT_STRATEGIES = [
  "round_robin",
  ...PEER_STRATEGIES,
  TURNPIKE_DEFAULT,
  BASELINE,
] as const;
const MODEL = "llama-3.1-8b-sim";

const usage = [
  "Usage: deno task bench routing [options]",
  "",
  "Replays a Mooncake-format trace (JSON lines: timestamp, input_length, output_length, hash_ids)",
  "through the gateway once per routing strategy, each time on fresh simulated replicas, plus a",
  "baseline that sends each request straight to a random replica. Reports TTFT, ITL, latency,",
  "throughput, prefix-cache hit rate against the trace's ideal ceiling, and load imbalance; then",
  "the best strategy again at other replica counts. Each request carries its conversation as the",
  "session header: a line's optional session_id, else inferred from the leading hash ids it",
  "shares with an earlier request (at least half of that one's blocks).",
  "",
  "Options:",
  `  --trace FILE            trace to replay, or "mixed" for the generated mixed single-turn trace;`,
  "                          mixed:rate=R,single=S,gap=LO-HI,requests=N,seed=K varies it (arrivals",
  "                          a second [16], single-turn share [0.7], seconds between a",
  "                          conversation's turns [2-30], requests [3000], seed [1])",
  `                          [${DEFAULT_TRACE}]`,
  "  --time-scale F          replay (and simulate) F times faster than the trace [10]",
  "  --replicas N            simulated replicas [4]",
  `  --strategies LIST       comma-separated: ${STRATEGY_NAMES.join(", ")}, ${BASELINE},`,
  "                          or weighted combinations like prefix_aware=3+least_load=1",
  `                          [${DEFAULT_STRATEGIES.join(",")}: the peers' policies against`,
  "                          round robin and turnpike's default, each shown as a ratio to the default]",
  "  --limit N               replay only the first N requests",
  "  --scale-replicas LIST   replica counts to rerun the best strategy at; empty to skip [2,4,8]",
  "  --kv-tokens T           KV budget of each replica in tokens [the simulator's, 430000]",
  "  --kv-offload-gib N      host (CPU) KV tier of each replica in GiB, 8192 tokens a GiB",
  "                          (vLLM's --kv-offloading-size, native backend); the gateway's prefix",
  "                          index then covers GPU plus host tokens [0: no host tier]",
  "  --gateway-admission     keep admission control's defaults (adaptive per-replica limits, the",
  "                          gateway's queue, early shedding); without it admission control is",
  "                          off and the gateway forwards each request at once to the replica",
  "                          its strategy chose, as the peers' routers do, so every strategy",
  "                          serves the whole trace at equal throughput",
  "  --fixed-caps            admission control with fixed caps instead (admission.adaptive: false:",
  "                          each replica's scraped KV capacity and 256 in flight; what finds no",
  "                          room waits in the gateway's queue), as the bench ran before",
  "                          2026-12-03; with --virtual the replay models that gate",
  "  --kv-tokens-list LIST   KV budget of each replica, comma-separated (a heterogeneous fleet the",
  "                          gateway's config does not describe: its index stays sized by --kv-tokens)",
  "  --hetero                the first replica gets half the others' KV budget (--kv-tokens-list short)",
  "  --prefix-feedback MODE  on, off (the router's prefix index open loop) or both: each strategy",
  "                          runs with and without it, and the estimate errors are compared [on]",
  "  --gateways N            also run each strategy through N gateway processes on one KV file, the",
  "                          replay alternating requests between them (once each reports another",
  "                          on the store in /health/detailed); prefix hits against one [1]",
  "  --virtual               replay on a virtual clock instead (no HTTP, no wall time): the router's",
  "                          strategy code and the simulator's engine model in this process;",
  "                          --replicas takes a list [8,64,256], the trace overlaid ceil(N/4) times",
  "  --virtual-check         with --virtual: also replay at 4 replicas on the wall clock and check",
  "                          hit rate and mean TTFT agree within 10%",
  "  --decision-only         micro-benchmark one routing decision (64 replicas, 100k-char prompts)",
  "                          and the router's memory per replica, nothing else",
  "  --rounds N              replay every strategy N times, the order rotated each round, and",
  "                          report each figure as the median of its rounds (a stall of this",
  "                          shared machine then moves one round, not the verdict) [1]",
  "  --client NAME           the load generator: lean (fetch, reading the SSE events without",
  "                          parsing each one) or openai (the official client, which until",
  "                          2026-12-08 was the only one) [lean]",
  "  --seed S                seed of the baseline's random picks [1]",
  "  --out DIR               where the JSON and SVG go [bench/results]",
].join("\n");

const flags = {
  trace: { type: "string" },
  "time-scale": { type: "string" },
  replicas: { type: "string" },
  strategies: { type: "string" },
  limit: { type: "string" },
  "scale-replicas": { type: "string" },
  "kv-tokens": { type: "string" },
  "kv-offload-gib": { type: "string" },
  seed: { type: "string" },
  rounds: { type: "string" },
  client: { type: "string" },
  out: { type: "string" },
  "kv-tokens-list": { type: "string" },
  hetero: { type: "boolean" },
  "gateway-admission": { type: "boolean" },
  "fixed-caps": { type: "boolean" },
  "prefix-feedback": { type: "string" },
  gateways: { type: "string" },
  virtual: { type: "boolean" },
  "virtual-check": { type: "boolean" },
  "decision-only": { type: "boolean" },
} as const;

function positiveInt(value: number | undefined, flag: string): number | undefined {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
    throw new UsageError(`--${flag} must be a positive integer`, usage);
  }
  return value;
}

/** Parsed `bench routing` command line. */
export interface RoutingBenchPlan {
  trace: string;
  timeScale: number;
  replicas: number;
  strategies: RunStrategy[];
  limit: number | undefined;
  scaleReplicas: number[];
  kvTokens: number | undefined;
  /** GiB of host KV tier per replica; 0 for none. */
  kvOffloadGib: number;
  seed: number;
  /** `--rounds`: replays of each strategy, reported by their medians. */
  rounds: number;
  /** `--client`: the replay's load generator. */
  client: ReplayClient;
  out: string;
  /** KV budget of each replica (a heterogeneous fleet); undefined: all get `kvTokens`. */
  kvTokensList: number[] | undefined;
  /** `--prefix-feedback`. */
  prefixFeedback: "on" | "off" | "both";
  /** `--gateways`. */
  gateways: number;
  /** `--virtual`: replica counts to replay at on the virtual clock; undefined without it. */
  virtualReplicas: number[] | undefined;
  /** `--virtual-check`. */
  virtualCheck: boolean;
  /** `--decision-only`. */
  decisionOnly: boolean;
  /** `--gateway-admission`: admission control runs as configured by default. */
  gatewayAdmission: boolean;
  /** `--fixed-caps`: admission control with fixed caps (`admission.adaptive: false`). */
  fixedCaps: boolean;
}

/** Parses the `bench routing` arguments; throws a UsageError on a bad command line. */
export function parseRoutingArgs(args: string[]): RoutingBenchPlan {
  const { values } = parseFlags(args, flags, usage);
  const num = (name: keyof typeof flags) => numberFlag(values[name], name, usage);
  const timeScale = num("time-scale") ?? 10;
  if (!(timeScale > 0)) throw new UsageError("--time-scale must be positive", usage);
  const kvOffloadGib = num("kv-offload-gib") ?? 0;
  if (kvOffloadGib < 0) throw new UsageError("--kv-offload-gib must not be negative", usage);
  const list = (name: keyof typeof flags) =>
    (values[name] as string).split(",").map((s) => s.trim()).filter((s) => s !== "");
  let strategies: RunStrategy[];
  try {
    strategies = values.strategies === undefined
      ? [...DEFAULT_STRATEGIES]
      : list("strategies").map(parseRunStrategy);
  } catch (error) {
    throw new UsageError((error as Error).message, usage);
  }
  if (strategies.length === 0) throw new UsageError("--strategies names no strategy", usage);
  const scaleReplicas = values["scale-replicas"] === undefined
    ? [2, 4, 8]
    : list("scale-replicas").map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 1) {
        throw new UsageError(`--scale-replicas has "${s}": give positive integers`, usage);
      }
      return n;
    });
  let virtualReplicas: number[] | undefined;
  if (values.virtual) {
    virtualReplicas = values.replicas === undefined ? [8, 64, 256] : list("replicas").map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 1) {
        throw new UsageError(`--replicas has "${s}": give positive integers`, usage);
      }
      return n;
    });
  } else if (values["virtual-check"]) {
    throw new UsageError("--virtual-check needs --virtual", usage);
  }
  const replicas = values.virtual ? 4 : positiveInt(num("replicas"), "replicas") ?? 4;
  const kvTokens = positiveInt(num("kv-tokens"), "kv-tokens");
  let kvTokensList: number[] | undefined;
  if (values["kv-tokens-list"] !== undefined) {
    kvTokensList = list("kv-tokens-list").map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 1) {
        throw new UsageError(`--kv-tokens-list has "${s}": give positive integers`, usage);
      }
      return n;
    });
    if (kvTokensList.length !== replicas) {
      throw new UsageError(
        `--kv-tokens-list names ${kvTokensList.length} budgets for ${replicas} replicas`,
        usage,
      );
    }
  } else if (values.hetero) {
    const full = kvTokens ?? DEFAULT_KV_TOKENS;
    kvTokensList = Array.from(
      { length: replicas },
      (_, i) => (i === 0 ? Math.floor(full / 2) : full),
    );
  }
  if (values["gateway-admission"] === true && values["fixed-caps"] === true) {
    throw new UsageError("--gateway-admission and --fixed-caps exclude each other", usage);
  }
  const feedback = values["prefix-feedback"] ?? "on";
  if (feedback !== "on" && feedback !== "off" && feedback !== "both") {
    throw new UsageError(`--prefix-feedback must be on, off or both, not "${feedback}"`, usage);
  }
  const trace = values.trace ?? DEFAULT_TRACE;
  mixedTraceOptions(trace); // A bad generator spec fails here, before anything starts.
  const client = values.client ?? "lean";
  if (client !== "lean" && client !== "openai") {
    throw new UsageError(`--client must be lean or openai, not "${client}"`, usage);
  }
  return {
    virtualReplicas,
    virtualCheck: values["virtual-check"] === true,
    decisionOnly: values["decision-only"] === true,
    gatewayAdmission: values["gateway-admission"] === true,
    fixedCaps: values["fixed-caps"] === true,
    kvTokensList,
    prefixFeedback: feedback,
    gateways: positiveInt(num("gateways"), "gateways") ?? 1,
    trace,
    timeScale,
    replicas,
    strategies,
    limit: positiveInt(num("limit"), "limit"),
    scaleReplicas,
    kvTokens,
    kvOffloadGib,
    seed: num("seed") ?? 1,
    rounds: positiveInt(num("rounds"), "rounds") ?? 1,
    client,
    out: values.out ?? RESULTS,
  };
}

/**
 * The generator's options from a `--trace mixed[:key=value,...]` spec: `rate` (arrivals a
 * second), `single` (share of single-turn requests), `gap` (seconds between a conversation's
 * turns, `lo-hi`), `requests`, `seed`. Undefined when the spec names a file instead.
 */
export function mixedTraceOptions(spec: string): MixedTraceOptions | undefined {
  if (spec !== "mixed" && !spec.startsWith("mixed:")) return undefined;
  const options: MixedTraceOptions = {};
  const bad = (item: string, want: string) =>
    new UsageError(`--trace ${spec}: "${item}" ${want}`, usage);
  for (const item of spec.slice("mixed:".length).split(",").filter((s) => s.trim() !== "")) {
    const [name, value = ""] = item.split("=").map((s) => s.trim());
    const n = Number(value);
    switch (name) {
      case "rate":
        if (!(n > 0)) throw bad(item, "needs a positive number of arrivals a second");
        options.ratePerSecond = n;
        break;
      case "single":
        if (!(n >= 0 && n <= 1) || value === "") throw bad(item, "needs a share from 0 to 1");
        options.singleTurnShare = n;
        break;
      case "requests":
        if (!(Number.isInteger(n) && n > 0)) throw bad(item, "needs a positive integer");
        options.requests = n;
        break;
      case "seed":
        if (!Number.isInteger(n) || value === "") throw bad(item, "needs an integer");
        options.seed = n;
        break;
      case "gap": {
        const [lo, hi] = value.split("-").map(Number);
        if (!(lo! >= 0 && hi! >= lo!)) throw bad(item, "needs seconds as lo-hi, e.g. gap=2-30");
        options.turnGapMs = [lo! * 1000, hi! * 1000];
        break;
      }
      default:
        throw bad(item, "is not one of rate, single, gap, requests, seed");
    }
  }
  return options;
}

async function loadTrace(plan: RoutingBenchPlan): Promise<TraceRequest[]> {
  const mixed = mixedTraceOptions(plan.trace);
  if (mixed !== undefined) return generateMixedTrace(mixed);
  let text: string;
  try {
    text = await Deno.readTextFile(plan.trace);
  } catch (error) {
    throw new UsageError(`Cannot read trace "${plan.trace}": ${(error as Error).message}`, usage);
  }
  return parseTrace(text, plan.trace);
}

/** Times `requestFeatures` on prompts of the trace's mean length and on short ones. */
export function featuresBench(trace: readonly TraceRequest[]): Record<string, number> {
  const sample = trace.slice(0, 200);
  const meanTokens = sample.reduce((s, r) => s + r.input_length, 0) / Math.max(1, sample.length);
  const result: Record<string, number> = {};
  for (const [label, tokens] of [["mean", Math.round(meanTokens)], ["short", 512]] as const) {
    const text = promptText({
      timestamp: 0,
      input_length: tokens,
      output_length: 1,
      hash_ids: [1, 2, 3],
    }, {
      blockChars: 2048,
      charsPerToken: 4,
    });
    const body = {
      model: MODEL,
      messages: [{ role: "system", content: "You are a helpful agent." }, {
        role: "user",
        content: text,
      }],
    };
    const options = { sessionId: "s", blockChars: 2048 };
    for (let i = 0; i < 50; i++) requestFeatures(body, options);
    const iterations = Math.max(50, Math.round(2e7 / text.length));
    const t0 = performance.now();
    for (let i = 0; i < iterations; i++) requestFeatures(body, options);
    const us = ((performance.now() - t0) * 1000) / iterations;
    result[`${label}_prompt_chars`] = text.length;
    result[`${label}_us_per_call`] = Number(us.toFixed(2));
    result[`${label}_chars_per_us`] = Number((text.length / us).toFixed(0));
  }
  return result;
}

function progressBar(label: string): (p: ReplayProgress) => void {
  const tty = Deno.stderr.isTerminal();
  const started = performance.now();
  let lastLine = 0;
  const enc = new TextEncoder();
  return (p) => {
    const elapsed = (performance.now() - started) / 1000;
    const finished = p.done + p.failed;
    const width = 30;
    const filled = Math.round((finished / Math.max(1, p.total)) * width);
    const text = `${label.padEnd(24)} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ` +
      `${finished}/${p.total} done, ${p.sent - finished} in flight, ${p.failed} failed, ${
        elapsed.toFixed(0)
      } s`;
    if (tty) {
      Deno.stderr.writeSync(enc.encode(`\r${text}\x1b[K${finished === p.total ? "\n" : ""}`));
    } else if (elapsed - lastLine >= 10 || finished === p.total) {
      lastLine = elapsed;
      Deno.stderr.writeSync(enc.encode(`${text}\n`));
    }
  };
}

/** The targets of issue #6, checked against round_robin. */
export function checkTargets(
  runs: readonly StrategyRun[],
  best: StrategyRun,
  ceiling: number,
  reachable: number,
): Record<string, boolean | null> {
  const rr = runs.find((r) => r.strategy === "round_robin");
  return {
    hit_rate_at_least_90pct_of_ceiling: best.hitRate >= 0.9 * ceiling,
    hit_rate_at_least_90pct_of_what_this_kv_allows: best.hitRate >= 0.9 * reachable,
    mean_ttft_at_most_half_of_round_robin: rr ? best.ttftMs.mean <= 0.5 * rr.ttftMs.mean : null,
    p99_ttft_at_most_0_6_of_round_robin: rr ? best.ttftMs.p99 <= 0.6 * rr.ttftMs.p99 : null,
    throughput_at_least_round_robin: rr
      ? best.outputTokensPerS >= 0.98 * rr.outputTokensPerS
      : null,
    no_failures: runs.every((r) => r.failed === 0),
    each_replay_under_5_minutes: runs.every((r) => r.durationS < 300),
  };
}

async function renderPng(svgPath: string): Promise<string | undefined> {
  const pngPath = svgPath.replace(/\.svg$/, ".png");
  for (const binary of ["chromium", "chromium-browser", "google-chrome"]) {
    try {
      const out = await new Deno.Command(binary, {
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-background-networking",
          "--hide-scrollbars",
          "--window-size=1100,480",
          `--screenshot=${pngPath}`,
          `file://${svgPath}`,
        ],
        stdout: "null",
        stderr: "null",
      }).output();
      if (out.success) return pngPath;
    } catch {
      // Not installed under this name.
    }
  }
  return undefined;
}

/** `deno task bench routing`. */
export const routingBench: BenchSuite = {
  name: "routing",
  summary: "trace replay per routing strategy (TTFT, hit rate, balance)",
  usage,
  async run(args) {
    const plan = parseRoutingArgs(args);
    let trace = await loadTrace(plan);
    if (plan.limit !== undefined) trace = trace.slice(0, plan.limit);
    if (plan.virtualReplicas !== undefined || plan.decisionOnly) {
      const command = `deno task bench routing ${args.join(" ")}`.trim();
      const wall = (strategy: RunStrategy) =>
        runStrategy(trace, strategy, {
          timeScale: plan.timeScale,
          model: MODEL,
          kvTokens: plan.kvTokens,
          kvOffloadGib: plan.kvOffloadGib,
          seed: plan.seed,
          replicas: 4,
          prefixFeedback: plan.prefixFeedback !== "off",
          gatewayAdmission: plan.gatewayAdmission,
          fixedCaps: plan.fixedCaps,
          client: plan.client,
          onProgress: progressBar(`${strategyLabel(strategy)} wall x4`),
        });
      return await runVirtualBench(plan, trace, command, wall, BENCH_MAX_MODEL_LEN);
    }
    const ceiling = idealHitRate(trace);
    const cache: CacheSetting = {
      kvTokens: plan.kvTokens ?? DEFAULT_KV_TOKENS,
      kvOffloadGib: plan.kvOffloadGib,
    };
    const cacheTokens = replicaCacheTokens(plan.kvTokens, plan.kvOffloadGib);
    // Perfect per-conversation affinity on the same engines, replayed on the virtual clock (so
    // running sequences take their KV as on the replicas): the hit rate the targets compare with.
    const reachable = virtualRun(trace, BASELINE, {
      replicas: plan.replicas,
      kvTokens: plan.kvTokens,
      kvTokensList: plan.kvTokensList,
      kvOffloadGib: plan.kvOffloadGib,
      maxModelLen: BENCH_MAX_MODEL_LEN,
      pinConversations: true,
    }).hitRate;
    // The same affinity against LRU caches that hold nothing but prefixes: a bound above it.
    const lruBound = cappedHitRate(trace, {
      replicas: plan.replicas,
      blocksPerReplica: Math.floor(cacheTokens / BLOCK_TOKENS),
    });
    const traceSpan = trace.length > 0 ? trace.at(-1)!.timestamp / 1000 : 0;
    console.log(
      `Trace ${plan.trace}: ${trace.length} requests over ${traceSpan.toFixed(0)} s ` +
        `(${
          (traceSpan / plan.timeScale).toFixed(0)
        } s at time scale ${plan.timeScale}); ideal prefix-hit ceiling ${
          (ceiling * 100).toFixed(1)
        }%`,
    );
    console.log(
      `KV cache per replica: ${describeCache(cache)}; perfect session affinity reaches ${
        (reachable * 100).toFixed(1)
      }% on these replicas (virtual clock), ${(lruBound * 100).toFixed(1)}% with caches that ` +
        "hold prefixes only (caches of that size cannot hold every conversation between its turns)",
    );
    const features = featuresBench(trace);
    console.log(
      `requestFeatures: ${features.mean_us_per_call} us for a ${features.mean_prompt_chars}-char prompt ` +
        `(${features.mean_chars_per_us} chars/us), ${features.short_us_per_call} us for ${features.short_prompt_chars} chars`,
    );
    const runOptions = {
      timeScale: plan.timeScale,
      model: MODEL,
      kvTokens: plan.kvTokens,
      kvOffloadGib: plan.kvOffloadGib,
      seed: plan.seed,
      gatewayAdmission: plan.gatewayAdmission,
      fixedCaps: plan.fixedCaps,
      client: plan.client,
    };
    // Each strategy's variants, in the order asked for; the rounds fill them in rotated order.
    const slots = plan.strategies.flatMap((strategy) =>
      (strategy === BASELINE
        ? [{ prefixFeedback: true, gateways: 1 }]
        : runVariants(plan.prefixFeedback, plan.gateways)).map((variant) => ({
          strategy,
          variant,
          rounds: [] as StrategyRun[],
        }))
    );
    for (let round = 0; round < plan.rounds; round++) {
      for (const slot of rotated(slots, round)) {
        const label = runLabel(slot.strategy, slot.variant);
        slot.rounds.push(
          await runStrategy(trace, slot.strategy, {
            ...runOptions,
            ...slot.variant,
            kvTokensList: plan.kvTokensList,
            replicas: plan.replicas,
            onProgress: progressBar(
              plan.rounds > 1 ? `${label} ${round + 1}/${plan.rounds}` : label,
            ),
          }),
        );
      }
    }
    const runs: StrategyRun[] = slots.map((slot) => medianRun(slot.rounds));
    if (plan.rounds > 1) {
      console.log(
        `\nEach figure below is the median of ${plan.rounds} rounds (order rotated per round):`,
      );
      for (const run of runs) {
        console.log(
          `  ${run.strategy.padEnd(24)} mean TTFT ${
            run.rounds!.map((r) => r.meanTtftMs.toFixed(1)).join(" / ")
          } ms, p99 ${run.rounds!.map((r) => r.p99TtftMs.toFixed(1)).join(" / ")} ms`,
        );
      }
    }
    console.log("");
    console.log(formatTable(runs, ceiling, { cache }));
    // Each strategy as asked for (not its variants) against turnpike's default.
    const asked = runs.filter((r) => plan.strategies.some((s) => strategyLabel(s) === r.strategy));
    const ratios = ratiosTo(asked, TURNPIKE_DEFAULT);
    if (ratios.length > 0) {
      console.log(`\nAgainst turnpike's default (${TURNPIKE_DEFAULT}):`);
      console.log(formatRatios(ratios, TURNPIKE_DEFAULT));
    }
    if (plan.kvTokensList !== undefined) {
      console.log(
        `KV budgets of the replicas: ${
          plan.kvTokensList.join(", ")
        } tokens (the gateway's config says ${cache.kvTokens}).`,
      );
    }
    const feedbackComparisons = compareFeedback(runs);
    const gatewayComparisons = compareGateways(runs);
    for (const line of formatComparisons(feedbackComparisons, gatewayComparisons)) {
      console.log(line);
    }
    // Variants (open loop, several gateways) compete in their own comparisons, not for best.
    const plain = runs.filter((r) => plan.strategies.some((s) => strategyLabel(s) === r.strategy));
    const candidates = plain.filter((r) => r.strategy !== BASELINE && r.failed === 0);
    const best = (candidates.length > 0 ? candidates : plain).reduce((
      a,
      b,
    ) => (b.ttftMs.mean < a.ttftMs.mean ? b : a));
    const bestStrategy = plan.strategies.find((s) => strategyLabel(s) === best.strategy)!;
    const scale: StrategyRun[] = [];
    if (bestStrategy !== BASELINE) {
      for (const n of plan.scaleReplicas) {
        if (n === plan.replicas) {
          scale.push(best);
          continue;
        }
        scale.push(
          await runStrategy(trace, bestStrategy, {
            ...runOptions,
            replicas: n,
            onProgress: progressBar(`${best.strategy} x${n}`),
          }),
        );
      }
      if (scale.length > 0) {
        console.log(`\nBest strategy (${best.strategy}, lowest mean TTFT) by replica count:`);
        console.log(formatTable(scale.sort((a, b) => a.replicas - b.replicas), ceiling, { cache }));
      }
    }
    const targets = checkTargets(runs, best, ceiling, reachable);
    console.log("\nTargets (best strategy against round_robin):");
    for (const [name, ok] of Object.entries(targets)) {
      console.log(`  ${ok === null ? "n/a " : ok ? "PASS" : "FAIL"}  ${name.replaceAll("_", " ")}`);
    }
    const againstPeers = peerTargets(asked, reachable);
    console.log(
      `\nTargets (${TURNPIKE_DEFAULT} against every other routing strategy; the baseline only for failures):`,
    );
    for (const [name, ok] of Object.entries(againstPeers)) {
      console.log(`  ${ok === null ? "n/a " : ok ? "PASS" : "FAIL"}  ${name.replaceAll("_", " ")}`);
    }
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    const result = {
      suite: "routing",
      created_at: new Date().toISOString(),
      command: `deno task bench routing ${args.join(" ")}`.trim(),
      machine: { cpus: navigator.hardwareConcurrency, deno: Deno.version.deno, os: Deno.build.os },
      trace: {
        path: plan.trace,
        requests: trace.length,
        span_s: traceSpan,
        ideal_hit_rate: ceiling,
        kv_tokens_per_replica: cache.kvTokens,
        affinity_hit_rate_with_this_kv: reachable,
        affinity_lru_bound_with_this_kv: lruBound,
      },
      cache: {
        gpu_kv_tokens_per_replica: cache.kvTokens,
        kv_offload_gib_per_replica: cache.kvOffloadGib,
        kv_offload_tokens_per_replica: cacheTokens - cache.kvTokens,
        prefix_cache_tokens_per_replica: cacheTokens,
        kv_offload_bandwidth_bytes_per_s: DEFAULT_OFFLOAD_BANDWIDTH_BYTES_PER_S,
      },
      options: { ...plan, strategies: plan.strategies.map(strategyLabel) },
      request_features: features,
      runs,
      kv_tokens_list: plan.kvTokensList ?? null,
      prefix_feedback: feedbackComparisons.map((c) => ({
        strategy: c.strategy,
        closed_loop: c.closedLoop.estimateError,
        open_loop: c.openLoop.estimateError,
        mae_ratio: c.maeRatio,
        p90_ratio: c.p90Ratio,
      })),
      gateways: gatewayComparisons.map((c) => ({
        strategy: c.strategy,
        gateways: c.gateways,
        hit_rate: c.several.hitRate,
        single_gateway_hit_rate: c.single.hitRate,
        hit_ratio: c.hitRatio,
        at_least_90pct_of_single: c.hitRatio >= 0.9,
      })),
      best: best.strategy,
      scale,
      targets,
      ratios_to_default: {
        reference: TURNPIKE_DEFAULT,
        runs: ratios.map((r) => ({
          strategy: r.strategy,
          mean_ttft: r.meanTtft,
          p99_ttft: r.p99Ttft,
          hit_rate: r.hitRate,
          output_tokens_per_s: r.throughput,
        })),
      },
      peer_targets: againstPeers,
    };
    await Deno.mkdir(plan.out, { recursive: true });
    const json = JSON.stringify(result, null, 2);
    const base = await Deno.realPath(plan.out);
    await Deno.writeTextFile(`${base}/routing-${stamp}.json`, json);
    await Deno.writeTextFile(`${base}/routing-latest.json`, json);
    const svgPath = `${base}/routing-latest.svg`;
    const subtitle =
      `${
        plan.trace.split("/").at(-1)
      }, ${trace.length} requests, ${plan.replicas} simulated replicas, ` +
      `time scale ${plan.timeScale}, ${describeCache(cache)}, ${
        new Date().toISOString().slice(0, 16)
      }Z`;
    await Deno.writeTextFile(
      svgPath,
      renderSvg(runs, { subtitle, ceiling, reachable, reference: TURNPIKE_DEFAULT }),
    );
    const png = await renderPng(svgPath);
    console.log(
      `\nWrote ${base}/routing-${stamp}.json, routing-latest.json, ${svgPath}${
        png
          ? `, ${png}`
          : " (no PNG: no chromium found to render the SVG; apt-get install chromium)"
      }`,
    );
    return runs.every((r) => r.failed === 0) ? 0 : 1;
  },
};

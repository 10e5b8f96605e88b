/** `bench routing --virtual` and `--decision-only`: the runs, their table, the check against the wall-clock replay, the JSON. */
import type { TraceRequest } from "../../sim/mod.ts";
import type { StrategyRun } from "./measure.ts";
import { BASELINE as BASELINE_NAME, type RunStrategy } from "./run.ts";
import { type VirtualOptions, type VirtualRun, virtualRun } from "./virtual.ts";
import { decisionBench, type DecisionResult } from "./decision.ts";
import { alignedTable } from "../table.ts";

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "-";
}

/** Runs every strategy at every replica count on the virtual clock, reporting each as it ends. */
export function virtualRuns(
  trace: readonly TraceRequest[],
  strategies: readonly RunStrategy[],
  replicaCounts: readonly number[],
  options: Omit<VirtualOptions, "replicas">,
  onRun: (run: VirtualRun) => void = () => {},
): VirtualRun[] {
  const runs: VirtualRun[] = [];
  for (const replicas of replicaCounts) {
    for (const strategy of strategies) {
      // A per-replica KV list fits one fleet size only.
      const list = options.kvTokensList?.length === replicas ? options.kvTokensList : undefined;
      const run = virtualRun(trace, strategy, { ...options, replicas, kvTokensList: list });
      onRun(run);
      runs.push(run);
    }
  }
  return runs;
}

/** The terminal table of virtual runs; TTFT in ms of trace time, over `timeScale` as the wall-clock replay's replicas report it. */
export function formatVirtualTable(runs: readonly VirtualRun[], timeScale: number): string {
  const header = [
    "strategy",
    "repl",
    "copies",
    "requests",
    "TTFT mean",
    "p50",
    "p90",
    "p99",
    "hit %",
    "imbal req",
    "busy",
    "decide us",
    "p99",
    "est MAE",
    "failed",
    "real s",
  ];
  const rows = runs.map((r) => [
    r.strategy,
    String(r.replicas),
    String(r.traceCopies),
    String(r.requests),
    fmt(r.ttftMs.mean / timeScale),
    fmt(r.ttftMs.p50 / timeScale),
    fmt(r.ttftMs.p90 / timeScale),
    fmt(r.ttftMs.p99 / timeScale),
    fmt(r.hitRate * 100, 1),
    fmt(r.requestImbalance, 2),
    fmt(r.busyImbalance, 2),
    fmt(r.decisionUs.mean, 1),
    fmt(r.decisionUs.p99, 1),
    fmt(r.estimateMaeTokens),
    String(r.failed),
    fmt(r.realS, 1),
  ]);
  return [
    ...alignedTable(header, rows),
    "",
    `Virtual clock: TTFT in ms of trace time / ${timeScale} (the time scale), as the replicas of a wall-clock replay report it.`,
    "copies: the trace overlaid that many times (disjoint conversations, shifted arrivals): the arrival rate is the trace's x ceil(replicas/4).",
    "decide us: the router's CPU per decision (pick), mean and p99, in this process under the replay's own load.",
  ].join("\n");
}

/** One strategy's virtual run at 4 replicas against its wall-clock replay. */
export interface WallCheck {
  strategy: string;
  virtualHitRate: number;
  wallHitRate: number;
  /** Virtual mean TTFT in replica-reported ms (trace ms over the time scale). */
  virtualTtftMeanMs: number;
  /** The wall-clock replay's mean TTFT as its replicas report it (the engine's own time, no HTTP). */
  wallReplicaTtftMeanMs: number;
  /** The wall-clock replay's mean TTFT as the client saw it (with HTTP and the gateway). */
  wallClientTtftMeanMs: number;
  hitRateWithin10Pct: boolean;
  ttftWithin10Pct: boolean;
}

/** Relative difference of `a` from `b`. */
function off(a: number, b: number): number {
  return b === 0 ? (a === 0 ? 0 : Infinity) : Math.abs(a - b) / Math.abs(b);
}

/** Compares virtual runs with wall-clock runs of the same strategies at the same replica count. */
export function wallChecks(
  virtual: readonly VirtualRun[],
  wall: readonly StrategyRun[],
  timeScale: number,
): WallCheck[] {
  const out: WallCheck[] = [];
  for (const w of wall) {
    const v = virtual.find((r) => r.strategy === w.strategy && r.replicas === w.replicas);
    if (!v) continue;
    const virtualTtft = v.ttftMs.mean / timeScale;
    out.push({
      strategy: w.strategy,
      virtualHitRate: v.hitRate,
      wallHitRate: w.hitRate,
      virtualTtftMeanMs: virtualTtft,
      wallReplicaTtftMeanMs: w.replicaView.ttftMeanMs,
      wallClientTtftMeanMs: w.ttftMs.mean,
      hitRateWithin10Pct: off(v.hitRate, w.hitRate) <= 0.1,
      ttftWithin10Pct: off(virtualTtft, w.replicaView.ttftMeanMs) <= 0.1,
    });
  }
  return out;
}

/** The checks as lines for the terminal. */
export function formatWallChecks(checks: readonly WallCheck[]): string[] {
  return checks.map((c) =>
    `${c.strategy}: virtual hit ${fmt(c.virtualHitRate * 100, 2)}% vs wall ${
      fmt(c.wallHitRate * 100, 2)
    }% (${c.hitRateWithin10Pct ? "PASS" : "FAIL"} within 10%); virtual mean TTFT ${
      fmt(c.virtualTtftMeanMs, 1)
    } ms vs the wall replay's replicas ${fmt(c.wallReplicaTtftMeanMs, 1)} ms (${
      c.ttftWithin10Pct ? "PASS" : "FAIL"
    } within 10%; its client saw ${fmt(c.wallClientTtftMeanMs, 1)} ms with HTTP and the gateway)`
  );
}

/** The decision micro-benchmark as lines for the terminal. */
export function formatDecision(results: readonly DecisionResult[]): string[] {
  return results.map((d) =>
    `${d.strategy}: one decision among ${d.replicas} replicas for a ${d.promptChars}-char prompt (${d.promptBlocks} blocks): ` +
    `${fmt(d.pickUs.mean, 1)} us mean, ${fmt(d.pickUs.p50, 1)} p50, ${
      fmt(d.pickUs.p99, 1)
    } p99 (target < 20 us: ${d.pickP99Under20Us ? "PASS" : "FAIL"}); the prompt's features ${
      fmt(d.featuresUs.mean)
    } us; router memory ${
      fmt(d.bytesPerReplica / 1024, 1)
    } KiB per replica (${d.blocksPerReplica} blocks, ${fmt(d.bytesPerBlock)} B a block)`
  );
}

/** What `--virtual` and `--decision-only` need of the bench's plan. */
export interface VirtualPlan {
  strategies: RunStrategy[];
  virtualReplicas: number[] | undefined;
  virtualCheck: boolean;
  decisionOnly: boolean;
  timeScale: number;
  kvTokens: number | undefined;
  /** KV budget of each replica; only at the replica count it names. */
  kvTokensList: number[] | undefined;
  kvOffloadGib: number;
  prefixFeedback: "on" | "off" | "both";
  /** Also replay through this many gateways sharing the session heads, when over 1. */
  gateways: number;
  /** Whether the gateways run under the admission gate with fixed caps (`--fixed-caps`). */
  fixedCaps: boolean;
  seed: number;
  out: string;
}

async function writeResult(out: string, name: string, result: unknown): Promise<string> {
  await Deno.mkdir(out, { recursive: true });
  const base = await Deno.realPath(out);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const json = JSON.stringify(result, null, 2);
  await Deno.writeTextFile(`${base}/${name}-${stamp}.json`, json);
  await Deno.writeTextFile(`${base}/${name}-latest.json`, json);
  return `${base}/${name}-${stamp}.json, ${name}-latest.json`;
}

/**
 * Runs `--decision-only` or `--virtual` (with `wall` for `--virtual-check`: the wall-clock replay
 * of one strategy at 4 replicas) and writes its JSON; returns the exit code.
 */
export async function runVirtualBench(
  plan: VirtualPlan,
  trace: readonly TraceRequest[],
  command: string,
  wall: (strategy: RunStrategy) => Promise<StrategyRun>,
  maxModelLen: number,
): Promise<number> {
  const machine = {
    cpus: navigator.hardwareConcurrency,
    deno: Deno.version.deno,
    os: Deno.build.os,
  };
  const strategies = plan.strategies.filter((s) => s !== BASELINE_NAME);
  if (plan.decisionOnly) {
    const results: DecisionResult[] = [];
    for (const s of strategies) results.push(await decisionBench(s));
    for (const line of formatDecision(results)) console.log(line);
    const written = await writeResult(plan.out, "routing-decision", {
      suite: "routing-decision",
      created_at: new Date().toISOString(),
      command,
      machine,
      results,
    });
    console.log(`\nWrote ${written}`);
    return 0;
  }
  const counts = [...(plan.virtualReplicas ?? [])];
  if (plan.virtualCheck && !counts.includes(4)) counts.unshift(4);
  const feedbacks = plan.prefixFeedback === "both" ? [true, false] : [plan.prefixFeedback === "on"];
  const runs: VirtualRun[] = [];
  const gatewayCounts = plan.gateways > 1 ? [1, plan.gateways] : [1];
  for (const prefixFeedback of feedbacks) {
    for (const gateways of gatewayCounts) {
      runs.push(
        ...virtualRuns(trace, plan.strategies, counts, {
          kvTokens: plan.kvTokens,
          kvTokensList: plan.kvTokensList,
          kvOffloadGib: plan.kvOffloadGib,
          prefixFeedback,
          gateways,
          seed: plan.seed,
          gatewayQueue: plan.fixedCaps,
          maxModelLen,
        }, (run) =>
          console.error(
            `${run.strategy} x${run.replicas}: ${run.requests} requests in ${
              run.realS.toFixed(1)
            } s`,
          )),
      );
    }
  }
  console.log("");
  console.log(formatVirtualTable(runs.sort((a, b) => a.replicas - b.replicas), plan.timeScale));
  const leads = virtualLeads(runs);
  for (const line of leads.lines) console.log(line);
  let checks: WallCheck[] = [];
  if (plan.virtualCheck) {
    const walls: StrategyRun[] = [];
    for (const s of plan.strategies) walls.push(await wall(s));
    checks = wallChecks(runs, walls, plan.timeScale);
    console.log("\nVirtual clock against the wall-clock replay at 4 replicas:");
    for (const line of formatWallChecks(checks)) console.log(`  ${line}`);
  }
  const written = await writeResult(plan.out, "routing-virtual", {
    suite: "routing-virtual",
    created_at: new Date().toISOString(),
    command,
    machine,
    arrival_rate: "the trace overlaid ceil(replicas/4) times: its rate x ceil(replicas/4)",
    time_scale_for_ttft: plan.timeScale,
    runs,
    leads: leads.byReplicas,
    wall_checks: checks,
  });
  console.log(`\nWrote ${written}`);
  return runs.every((r) => r.failed === 0) &&
      checks.every((c) => c.hitRateWithin10Pct && c.ttftWithin10Pct)
    ? 0
    : 1;
}

/** At each replica count, each strategy's mean and p99 TTFT over the best other's, for the lines. */
export function virtualLeads(runs: readonly VirtualRun[]): {
  lines: string[];
  byReplicas: Record<string, { best: string; mean_ttft_ratio_to_best: Record<string, number> }>;
} {
  const lines: string[] = [];
  const byReplicas: Record<
    string,
    { best: string; mean_ttft_ratio_to_best: Record<string, number> }
  > = {};
  for (const n of [...new Set(runs.map((r) => r.replicas))]) {
    const at = runs.filter((r) => r.replicas === n);
    const best = at.reduce((a, b) => (b.ttftMs.mean < a.ttftMs.mean ? b : a));
    const ratios: Record<string, number> = {};
    for (const r of at) ratios[r.strategy] = r.ttftMs.mean / best.ttftMs.mean;
    byReplicas[String(n)] = { best: best.strategy, mean_ttft_ratio_to_best: ratios };
    lines.push(
      `x${n}: lowest mean TTFT ${best.strategy}; others ${
        at.filter((r) => r !== best).map((r) => `${r.strategy} ${ratios[r.strategy]!.toFixed(2)}x`)
          .join(", ")
      }`,
    );
  }
  return { lines, byReplicas };
}

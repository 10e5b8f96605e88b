/**
 * `bench routing --rounds N`: each strategy replayed N times, the order rotated every round, and
 * reported by the median of its rounds. On this shared 2-core machine a stall of the whole box
 * lands on whichever strategy is replaying at the time; one round's mean or p99 TTFT can then
 * differ from the next round's of the same strategy by more than strategies differ from each
 * other, and the median of interleaved rounds is what the comparison can trust.
 */
import type { Summary } from "../../sim/mod.ts";
import type { StrategyRun } from "./measure.ts";
import { medianOf as median } from "../sessions/verdicts.ts";

/** One round's headline figures of a strategy, kept beside the medians in the JSON. */
export interface RoundFigures {
  round: number;
  meanTtftMs: number;
  p99TtftMs: number;
  hitRate: number;
  outputTokensPerS: number;
  failed: number;
  /** The replicas' own mean TTFT (no gateway or client in it), in ms. */
  replicaTtftMs: number;
  /** CPU cores the processes used in the round, when measured (what a noisy round shows first). */
  cpuCores?: StrategyRun["cpuCores"];
}

/** `items` rotated left by `round` places: every item takes every position once in `items.length` rounds. */
export function rotated<T>(items: readonly T[], round: number): T[] {
  if (items.length === 0) return [];
  const shift = round % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

function medianSummary(summaries: readonly Summary[]): Summary {
  const of = (field: keyof Summary) => median(summaries.map((s) => s[field]));
  return {
    count: of("count"),
    mean: of("mean"),
    p50: of("p50"),
    p90: of("p90"),
    p99: of("p99"),
    max: of("max"),
  };
}

/**
 * One strategy's rounds as one run: each latency statistic, hit rate and throughput the median of
 * the rounds'; failures summed (a request failed in any round counts); the rest (CDF, slowest
 * requests, per-backend counts) from the round whose mean TTFT is the median. One round is
 * returned as it is.
 */
export function medianRun(runs: readonly StrategyRun[]): StrategyRun {
  if (runs.length === 0) throw new Error("medianRun() needs at least one round");
  if (runs.length === 1) return runs[0]!;
  const byMean = [...runs].sort((a, b) => a.ttftMs.mean - b.ttftMs.mean);
  const base = byMean[Math.floor((byMean.length - 1) / 2)]!;
  const of = (pick: (run: StrategyRun) => number) => median(runs.map(pick));
  const estimates = runs.flatMap((r) => (r.estimateError ? [r.estimateError] : []));
  const rounds: RoundFigures[] = runs.map((r, i) => ({
    round: i + 1,
    meanTtftMs: r.ttftMs.mean,
    p99TtftMs: r.ttftMs.p99,
    hitRate: r.hitRate,
    outputTokensPerS: r.outputTokensPerS,
    failed: r.failed,
    replicaTtftMs: r.replicaView.ttftMeanMs,
    ...(r.cpuCores ? { cpuCores: r.cpuCores } : {}),
  }));
  return {
    ...base,
    failed: runs.reduce((sum, r) => sum + r.failed, 0),
    errors: runs.flatMap((r) => r.errors).slice(0, 5),
    ttftMs: medianSummary(runs.map((r) => r.ttftMs)),
    itlMs: medianSummary(runs.map((r) => r.itlMs)),
    e2eMs: medianSummary(runs.map((r) => r.e2eMs)),
    durationS: of((r) => r.durationS),
    requestsPerS: of((r) => r.requestsPerS),
    outputTokensPerS: of((r) => r.outputTokensPerS),
    hitRate: of((r) => r.hitRate),
    localHitRate: of((r) => r.localHitRate),
    externalHitRate: of((r) => r.externalHitRate),
    replicaView: {
      ...base.replicaView,
      ttftMeanMs: of((r) => r.replicaView.ttftMeanMs),
      queueMeanMs: of((r) => r.replicaView.queueMeanMs),
    },
    requestImbalance: of((r) => r.requestImbalance),
    busyImbalance: of((r) => r.busyImbalance),
    ...(estimates.length === runs.length
      ? {
        estimateError: {
          ...base.estimateError!,
          meanAbsTokens: median(estimates.map((e) => e.meanAbsTokens)),
          p90AbsTokens: median(estimates.map((e) => e.p90AbsTokens)),
          biasTokens: median(estimates.map((e) => e.biasTokens)),
        },
      }
      : {}),
    rounds,
  };
}

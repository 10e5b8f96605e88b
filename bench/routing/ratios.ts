/**
 * The routing bench against turnpike's default: each run's TTFT, hit rate and throughput as a
 * ratio to the default strategy's run, the table of them, and issue #15's targets on them.
 */
import { alignedTable } from "../table.ts";
import type { StrategyRun } from "./measure.ts";
import { BASELINE } from "./run.ts";

/** Turnpike's default strategy, as `proxy.strategy` defaults to it (config/schema.ts). */
export const TURNPIKE_DEFAULT = "prefix_aware";

/** The peers' policies `bench routing` runs by default beside round robin and the default. */
export const PEER_STRATEGIES = ["sglang_cache_aware", "llmd_default", "consistent_hash"] as const;

/** One run against the reference run: each figure divided by the reference's. */
export interface RatioRow {
  strategy: string;
  /** Mean TTFT over the reference's (above 1: slower than the reference). */
  meanTtft: number;
  /** p99 TTFT over the reference's. */
  p99Ttft: number;
  /** Prefix-cache hit rate (GPU plus host) over the reference's (below 1: fewer hits). */
  hitRate: number;
  /** Output tokens per second over the reference's. */
  throughput: number;
}

function ratio(a: number, b: number): number {
  return b > 0 ? a / b : NaN;
}

/** Every run's figures over `reference`'s; empty when there is no reference run. */
export function ratiosTo(runs: readonly StrategyRun[], reference: string): RatioRow[] {
  const ref = runs.find((r) => r.strategy === reference);
  if (ref === undefined) return [];
  return runs.map((r) => ({
    strategy: r.strategy,
    meanTtft: ratio(r.ttftMs.mean, ref.ttftMs.mean),
    p99Ttft: ratio(r.ttftMs.p99, ref.ttftMs.p99),
    hitRate: ratio(r.hitRate, ref.hitRate),
    throughput: ratio(r.outputTokensPerS, ref.outputTokensPerS),
  }));
}

function times(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(2)}x` : "-";
}

/** The terminal table of {@linkcode ratiosTo}'s rows. */
export function formatRatios(rows: readonly RatioRow[], reference: string): string {
  if (rows.length === 0) return `(no ${reference} run to compare with)`;
  const header = ["strategy", "mean TTFT", "p99 TTFT", "prefix hits", "output tok/s"];
  const cells = rows.map((r) => [
    r.strategy,
    times(r.meanTtft),
    times(r.p99Ttft),
    times(r.hitRate),
    times(r.throughput),
  ]);
  return [
    ...alignedTable(header, cells),
    "",
    `Each strategy's figure over ${reference}'s (turnpike's default): TTFT above 1.00x is slower, hits below 1.00x fewer.`,
  ].join("\n");
}

/**
 * Issue #15's targets for one run set: the default has the lowest mean and p99 TTFT of every
 * routing strategy, at a throughput within 2% of each, with no failed request (the baseline's
 * included), and its prefix hits reach 95% of what perfect per-conversation affinity reaches with
 * caches of this size. Null where the default did not run. The baseline is not a strategy the
 * gateway can run: it sends each request straight to a replica, without the gateway's hop, so its
 * TTFT against the default's measures the gateway's own cost (the ratio table shows it), not
 * routing.
 */
export function peerTargets(
  runs: readonly StrategyRun[],
  reachable: number,
  reference: string = TURNPIKE_DEFAULT,
): Record<string, boolean | null> {
  const ref = runs.find((r) => r.strategy === reference);
  const others = runs.filter((r) => r.strategy !== reference && r.strategy !== BASELINE);
  if (ref === undefined) {
    return {
      default_lowest_mean_ttft: null,
      default_lowest_p99_ttft: null,
      default_throughput_within_2pct_of_each: null,
      no_failures: runs.every((r) => r.failed === 0),
      default_hits_at_least_95pct_of_affinity_with_this_kv: null,
    };
  }
  return {
    default_lowest_mean_ttft: others.every((r) => ref.ttftMs.mean < r.ttftMs.mean),
    default_lowest_p99_ttft: others.every((r) => ref.ttftMs.p99 < r.ttftMs.p99),
    default_throughput_within_2pct_of_each: others.every((r) =>
      ref.outputTokensPerS >= 0.98 * r.outputTokensPerS
    ),
    no_failures: runs.every((r) => r.failed === 0),
    default_hits_at_least_95pct_of_affinity_with_this_kv: ref.hitRate >= 0.95 * reachable,
  };
}

/** The routing bench's comparisons of variants of one strategy: prefix feedback against the open-loop index, several gateways against one. */
import type { StrategyRun } from "./measure.ts";

/** How one strategy's run is varied: the router's prefix feedback, and the gateway processes. */
export interface RunVariant {
  /** `proxy.prefix_feedback`. */
  prefixFeedback: boolean;
  /** Gateway processes on one KV file. */
  gateways: number;
}

/**
 * The variants `--prefix-feedback` (`on`, `off` or `both`) and `--gateways N` ask for: the
 * plain run first; with N > 1 also N gateways (with feedback on, unless only `off` is asked).
 */
export function runVariants(feedback: "on" | "off" | "both", gateways: number): RunVariant[] {
  const variants: RunVariant[] = [];
  if (feedback !== "off") variants.push({ prefixFeedback: true, gateways: 1 });
  if (feedback !== "on") variants.push({ prefixFeedback: false, gateways: 1 });
  if (gateways > 1) variants.push({ prefixFeedback: feedback !== "off", gateways });
  return variants;
}

/** One strategy's run with and without the prefix feedback. */
export interface FeedbackComparison {
  strategy: string;
  closedLoop: StrategyRun;
  openLoop: StrategyRun;
  /** Closed-loop mean absolute estimate error over the open loop's (below 1: feedback helps). */
  maeRatio: number;
  /** The same of the p90. */
  p90Ratio: number;
}

/** Several gateways against one, for one strategy. */
export interface GatewaysComparison {
  strategy: string;
  gateways: number;
  single: StrategyRun;
  several: StrategyRun;
  /** The several gateways' prefix-hit rate over the single gateway's. */
  hitRatio: number;
}

/** The label of a strategy's plain run, from a variant's label. */
function baseLabel(label: string): string {
  return label.replace(/ open-loop$/, "").replace(/ x\d+ gateways$/, "");
}

/** Pairs every open-loop run with the closed-loop run of its strategy. */
export function compareFeedback(runs: readonly StrategyRun[]): FeedbackComparison[] {
  const out: FeedbackComparison[] = [];
  for (const open of runs.filter((r) => r.strategy.endsWith(" open-loop"))) {
    const strategy = baseLabel(open.strategy);
    const closed = runs.find((r) => r.strategy === strategy);
    if (!closed?.estimateError || !open.estimateError) continue;
    out.push({
      strategy,
      closedLoop: closed,
      openLoop: open,
      maeRatio: closed.estimateError.meanAbsTokens / open.estimateError.meanAbsTokens,
      p90Ratio: closed.estimateError.p90AbsTokens / open.estimateError.p90AbsTokens,
    });
  }
  return out;
}

/** Pairs every several-gateway run with the single-gateway run of its strategy. */
export function compareGateways(runs: readonly StrategyRun[]): GatewaysComparison[] {
  const out: GatewaysComparison[] = [];
  for (const several of runs) {
    const m = / x(\d+) gateways$/.exec(several.strategy);
    if (!m) continue;
    const strategy = baseLabel(several.strategy);
    const single = runs.find((r) => r.strategy === strategy);
    if (!single) continue;
    out.push({
      strategy,
      gateways: Number(m[1]),
      single,
      several,
      hitRatio: single.hitRate > 0 ? several.hitRate / single.hitRate : NaN,
    });
  }
  return out;
}

/** The comparisons as lines for the terminal. */
export function formatComparisons(
  feedback: readonly FeedbackComparison[],
  gateways: readonly GatewaysComparison[],
): string[] {
  const lines: string[] = [];
  for (const c of feedback) {
    const closed = c.closedLoop.estimateError!;
    const open = c.openLoop.estimateError!;
    lines.push(
      `${c.strategy}: estimate error with prefix feedback ${
        closed.meanAbsTokens.toFixed(0)
      } tokens mean, ${closed.p90AbsTokens.toFixed(0)} p90; open loop ${
        open.meanAbsTokens.toFixed(0)
      } mean, ${open.p90AbsTokens.toFixed(0)} p90 (${(c.maeRatio * 100).toFixed(0)}% of its mean${
        Number.isFinite(c.p90Ratio) ? `, ${(c.p90Ratio * 100).toFixed(0)}% of its p90` : ""
      })`,
    );
  }
  for (const c of gateways) {
    lines.push(
      `${c.strategy}: ${c.gateways} gateways reach ${
        (c.several.hitRate * 100).toFixed(1)
      }% prefix hits, ${(c.hitRatio * 100).toFixed(0)}% of one gateway's ${
        (c.single.hitRate * 100).toFixed(1)
      }% (target 90%: ${c.hitRatio >= 0.9 ? "PASS" : "FAIL"})`,
    );
  }
  return lines;
}

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { compareFeedback, compareGateways, formatComparisons, runVariants } from "./compare.ts";
import type { StrategyRun } from "./measure.ts";

function run(strategy: string, hitRate: number, mae?: number): StrategyRun {
  return {
    strategy,
    hitRate,
    ...(mae === undefined ? {} : {
      estimateError: {
        requests: 10,
        meanAbsTokens: mae,
        p90AbsTokens: 2 * mae,
        biasTokens: 0,
        meanReportedTokens: 100,
      },
    }),
  } as StrategyRun;
}

Deno.test("runVariants: the plain run, the open loop with both, several gateways with --gateways", () => {
  assertEquals(runVariants("on", 1), [{ prefixFeedback: true, gateways: 1 }]);
  assertEquals(runVariants("both", 2), [
    { prefixFeedback: true, gateways: 1 },
    { prefixFeedback: false, gateways: 1 },
    { prefixFeedback: true, gateways: 2 },
  ]);
  assertEquals(runVariants("off", 3), [
    { prefixFeedback: false, gateways: 1 },
    { prefixFeedback: false, gateways: 3 },
  ]);
});

Deno.test("compareFeedback and compareGateways pair each variant with its strategy's plain run", () => {
  const runs = [
    run("prefix_aware", 0.5, 100),
    run("prefix_aware open-loop", 0.45, 400),
    run("prefix_aware x2 gateways", 0.46, 150),
    run("round_robin", 0.1),
  ];
  const feedback = compareFeedback(runs);
  assertEquals(feedback.length, 1);
  assertEquals(feedback[0]!.maeRatio, 0.25);
  const gateways = compareGateways(runs);
  assertEquals(gateways.length, 1);
  assertEquals(gateways[0]!.gateways, 2);
  assert(Math.abs(gateways[0]!.hitRatio - 0.92) < 1e-9);
  const lines = formatComparisons(feedback, gateways);
  assert(lines[0]!.includes("25% of its mean"), lines[0]);
  assert(lines[1]!.includes("92%") && lines[1]!.includes("PASS"), lines[1]);
});

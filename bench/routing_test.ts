import {
  deepStrictEqual as assertEquals,
  ok as assert,
  throws as assertThrows,
} from "node:assert/strict";
import { UsageError } from "../config/mod.ts";
import { STRATEGY_NAMES } from "../actors/router/mod.ts";
import {
  checkTargets,
  DEFAULT_STRATEGIES,
  mixedTraceOptions,
  parseRoutingArgs,
} from "./routing.ts";
import { measureRun } from "./routing/measure.ts";
import { BASELINE } from "./routing/run.ts";

Deno.test("parseRoutingArgs defaults to round robin, the peers, the default and the baseline at 4 replicas, time scale 10", () => {
  const plan = parseRoutingArgs([]);
  assertEquals(plan.strategies, [
    "round_robin",
    "sglang_cache_aware",
    "llmd_default",
    "consistent_hash",
    "prefix_aware",
    BASELINE,
  ]);
  assertEquals(plan.strategies, [...DEFAULT_STRATEGIES]);
  for (const name of STRATEGY_NAMES) {
    assertEquals(parseRoutingArgs(["--strategies", name]).strategies, [name]);
  }
  assertEquals(plan.replicas, 4);
  assertEquals(plan.timeScale, 10);
  assertEquals(plan.scaleReplicas, [2, 4, 8]);
  assertEquals(plan.limit, undefined);
  assertEquals(plan.kvOffloadGib, 0);
  assertEquals(plan.rounds, 1);
  assertEquals(parseRoutingArgs(["--rounds", "3"]).rounds, 3);
  assertThrows(() => parseRoutingArgs(["--rounds", "0"]), UsageError);
  assertThrows(() => parseRoutingArgs(["--rounds", "1.5"]), UsageError);
  assertEquals(plan.client, "lean");
  assertEquals(parseRoutingArgs(["--client", "openai"]).client, "openai");
  assertThrows(() => parseRoutingArgs(["--client", "curl"]), UsageError);
});

Deno.test("parseRoutingArgs reads the host KV tier in GiB, fractions included", () => {
  assertEquals(parseRoutingArgs(["--kv-offload-gib", "7.5"]).kvOffloadGib, 7.5);
  assertThrows(() => parseRoutingArgs(["--kv-offload-gib", "-1"]), UsageError);
  assertThrows(() => parseRoutingArgs(["--kv-offload-gib", "lots"]), UsageError);
});

Deno.test("parseRoutingArgs reads lists, limits and weighted strategies", () => {
  const plan = parseRoutingArgs([
    "--strategies",
    "round_robin, prefix_aware=2+least_load=1",
    "--limit",
    "50",
    "--scale-replicas",
    "",
    "--time-scale",
    "20",
  ]);
  assertEquals(plan.strategies, ["round_robin", { prefix_aware: 2, least_load: 1 }]);
  assertEquals(plan.limit, 50);
  assertEquals(plan.scaleReplicas, []);
  assertEquals(plan.timeScale, 20);
});

Deno.test("parseRoutingArgs rejects bad values with a usage error", () => {
  assertThrows(() => parseRoutingArgs(["--replicas", "0"]), UsageError);
  assertThrows(() => parseRoutingArgs(["--strategies", "fastest"]), UsageError);
  assertThrows(() => parseRoutingArgs(["--scale-replicas", "2,x"]), UsageError);
  assertThrows(() => parseRoutingArgs(["--gateway-admission", "--fixed-caps"]), UsageError);
  assertEquals(parseRoutingArgs(["--fixed-caps"]).fixedCaps, true);
  assertThrows(() => parseRoutingArgs(["--time-scale", "-1"]), UsageError);
});

function run(strategy: string, ttftMs: number, tokens: number, hits: number) {
  return measureRun({
    requests: [{
      index: 0,
      sentMs: 0,
      ttftMs,
      e2eMs: ttftMs * 2,
      outputTokens: tokens,
      backend: "a",
      error: undefined,
    }],
    itlMs: [],
    durationMs: 1000,
  }, {
    strategy,
    backends: ["a"],
    before: {},
    after: { "vllm:prefix_cache_queries_total": 100, "vllm:prefix_cache_hits_total": hits },
  });
}

Deno.test("checkTargets compares the best strategy with round_robin", () => {
  const rr = run("round_robin", 1000, 100, 5);
  const best = run("prefix_aware", 400, 100, 60);
  const targets = checkTargets([rr, best], best, 0.64, 0.2);
  assertEquals(targets.hit_rate_at_least_90pct_of_ceiling, true);
  assertEquals(targets.mean_ttft_at_most_half_of_round_robin, true);
  assertEquals(targets.throughput_at_least_round_robin, true);
  const slow = run("prefix_aware", 700, 50, 10);
  const worse = checkTargets([rr, slow], slow, 0.64, 0.2);
  assertEquals(worse.mean_ttft_at_most_half_of_round_robin, false);
  assertEquals(worse.throughput_at_least_round_robin, false);
  assertEquals(worse.hit_rate_at_least_90pct_of_ceiling, false);
  assert(checkTargets([best], best, 0.64, 0.2).mean_ttft_at_most_half_of_round_robin === null);
});

Deno.test("--trace mixed:... sets the generator's rate, single-turn share, turn gaps, size and seed", () => {
  assertEquals(mixedTraceOptions("mixed"), {});
  assertEquals(mixedTraceOptions("/traces/a.jsonl"), undefined);
  assertEquals(mixedTraceOptions("mixed:rate=32,single=0.9,gap=60-300,requests=500,seed=7"), {
    ratePerSecond: 32,
    singleTurnShare: 0.9,
    turnGapMs: [60_000, 300_000],
    requests: 500,
    seed: 7,
  });
  for (
    const bad of [
      "mixed:rate=0",
      "mixed:single=2",
      "mixed:gap=30-2",
      "mixed:gap=x",
      "mixed:speed=1",
      "mixed:requests=1.5",
    ]
  ) {
    assertThrows(() => parseRoutingArgs(["--trace", bad]), UsageError, bad);
  }
  assertEquals(parseRoutingArgs(["--trace", "mixed:gap=60-300"]).trace, "mixed:gap=60-300");
});

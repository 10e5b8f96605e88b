import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { formatRatios, peerTargets, ratiosTo, TURNPIKE_DEFAULT } from "./ratios.ts";
import { fixtureRun as run } from "./_testing.ts";
import { renderSvg } from "./report.ts";

function near(a: number, b: number): boolean {
  return Math.abs(a - b) < 1e-9;
}

Deno.test("ratiosTo divides each run's TTFT, hits and throughput by the default's", () => {
  const runs = [
    run("round_robin", 40, 20),
    run(TURNPIKE_DEFAULT, 10, 50),
    run("llmd_default", 20, 40),
  ];
  const rows = ratiosTo(runs, TURNPIKE_DEFAULT);
  assertEquals(rows.map((r) => r.strategy), ["round_robin", TURNPIKE_DEFAULT, "llmd_default"]);
  assert(near(rows[0]!.meanTtft, 4) && near(rows[0]!.p99Ttft, 4) && near(rows[0]!.hitRate, 0.4));
  assert(near(rows[1]!.meanTtft, 1) && near(rows[1]!.throughput, 1));
  assert(near(rows[2]!.meanTtft, 2) && near(rows[2]!.hitRate, 0.8));
  assertEquals(ratiosTo([run("round_robin", 1, 1)], TURNPIKE_DEFAULT), []);
  const table = formatRatios(rows, TURNPIKE_DEFAULT);
  const line = table.split("\n").find((l) => l.startsWith("llmd_default"))!;
  assertEquals(line.split(/\s{2,}/).slice(1), ["2.00x", "2.00x", "0.80x", "1.00x"]);
});

Deno.test("peerTargets passes only when the default has the lowest mean and p99 TTFT of all", () => {
  const good = [
    run("round_robin", 40, 20),
    run(TURNPIKE_DEFAULT, 10, 50),
    run("consistent_hash", 12, 45),
  ];
  assertEquals(peerTargets(good, 0.5), {
    default_lowest_mean_ttft: true,
    default_lowest_p99_ttft: true,
    default_throughput_within_2pct_of_each: true,
    no_failures: true,
    default_hits_at_least_95pct_of_affinity_with_this_kv: true,
  });
  const beaten = [...good, run("sglang_cache_aware", 9, 55)];
  const t = peerTargets(beaten, 0.6);
  assertEquals(t.default_lowest_mean_ttft, false);
  assertEquals(t.default_lowest_p99_ttft, false);
  // 50% hits against 60% reachable is under 95% of it.
  assertEquals(t.default_hits_at_least_95pct_of_affinity_with_this_kv, false);
  const slower = peerTargets(
    [
      run(TURNPIKE_DEFAULT, 10, 50, { outputTokens: 5 }),
      run("llmd_default", 20, 40, { outputTokens: 6 }),
    ],
    0.5,
  );
  assertEquals(slower.default_throughput_within_2pct_of_each, false);
  // The baseline, without the gateway's hop, is no strategy to beat; its failures still count.
  const withBaseline = peerTargets([...good, run("baseline", 5, 10, { failed: true })], 0.5);
  assertEquals(withBaseline.default_lowest_mean_ttft, true);
  assertEquals(withBaseline.default_lowest_p99_ttft, true);
  assertEquals(withBaseline.no_failures, false);
  assertEquals(
    peerTargets([run("round_robin", 1, 1, { failed: true })], 0.5).default_lowest_mean_ttft,
    null,
  );
  assertEquals(peerTargets([run("round_robin", 1, 1, { failed: true })], 0.5).no_failures, false);
});

Deno.test("renderSvg shows each strategy's ratio to the reference in the legend and the bars", () => {
  const runs = [run("round_robin", 40, 20), run(TURNPIKE_DEFAULT, 10, 50)];
  const svg = renderSvg(runs, { subtitle: "t", ceiling: 0.6, reference: TURNPIKE_DEFAULT });
  assert(svg.includes("round_robin: mean 80 ms = 4.00x, p99 4.00x"), svg);
  assert(svg.includes(`${TURNPIKE_DEFAULT}: mean 20 ms (reference)`));
  assert(svg.includes(">20% 0.40x<"));
  assert(svg.includes("turnpike's default (1.00x)"));
  const plain = renderSvg(runs, { subtitle: "t", ceiling: 0.6 });
  assert(plain.includes("round_robin (mean 80 ms)") && !plain.includes("reference"));
});

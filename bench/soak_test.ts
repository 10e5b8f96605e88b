import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import { join } from "node:path";
import { UsageError } from "../config/mod.ts";
import { parseSoakArgs, soakBench, soakTable } from "./soak.ts";
import { parseFileLimits, serveTaskV8Flags, softLimitFor } from "./soak/processes.ts";
import { type StreamSample, upstreamDurMs } from "./soak/streams.ts";
import { meanOpen, soakFigures, soakVerdicts } from "./soak/summary.ts";

function sample(startMs: number, endMs: number, extra: Partial<StreamSample> = {}): StreamSample {
  return {
    direct: false,
    startMs,
    headMs: 3,
    ttftMs: 100,
    endMs,
    upstreamMs: 1,
    error: undefined,
    ...extra,
  };
}

Deno.test("parseFileLimits() reads the open-files line of /proc/<pid>/limits", () => {
  const text = [
    "Limit                     Soft Limit           Hard Limit           Units",
    "Max processes             127431               127431               processes",
    "Max open files            1024                 524288               files",
  ].join("\n");
  assertEquals(parseFileLimits(text), { soft: 1024, hard: 524288 });
  assertEquals(
    parseFileLimits("Max open files            unlimited            unlimited            files"),
    { soft: Infinity, hard: Infinity },
  );
  assertEquals(parseFileLimits("nothing here"), undefined);
});

Deno.test("softLimitFor() raises the soft limit up to the hard one and refuses past it", () => {
  assertEquals(softLimitFor(2_512, { soft: 20_000, hard: 20_000 }), undefined);
  assertEquals(softLimitFor(2_512, { soft: 1_024, hard: 4_096 }), 2_512);
  throws(() => softLimitFor(2_512, { soft: 1_024, hard: 2_048 }), /hard limit is 2048/);
});

Deno.test("upstreamDurMs() reads the upstream part of the gateway's server-timing header", () => {
  assertEquals(upstreamDurMs("gateway;dur=0.412, upstream;dur=3.250"), 3.25);
  assertEquals(upstreamDurMs(null), undefined);
  assertEquals(upstreamDurMs("gateway;dur=1"), undefined);
});

Deno.test("meanOpen() counts the streams open on average over a window", () => {
  const samples = [sample(0, 1_000), sample(500, 1_500), sample(1_000, 3_000)];
  // Over [0, 2000]: 1000 + 1000 + 1000 ms open.
  assertEquals(meanOpen(samples, 0, 2_000), 1.5);
  assert(Number.isNaN(meanOpen(samples, 5, 5)));
});

Deno.test("soakFigures() splits memory in thirds and counts errors by path", () => {
  const samples = [
    sample(0, 900, { headMs: 50, upstreamMs: 1 }), // in the ramp: latency left out
    sample(1_000, 2_000, { headMs: 4, upstreamMs: 1 }),
    sample(1_200, 2_200, { headMs: 6, upstreamMs: 2 }),
    sample(1_300, 2_300, { direct: true, headMs: 2, upstreamMs: undefined, ttftMs: 90 }),
    sample(1_400, 1_500, { error: "HTTP 502: bad gateway" }),
  ];
  const rss = (atS: number, mb: number) => ({
    atS,
    rssBytes: mb * 1e6,
    openFiles: 10,
    inFlight: 3,
  });
  const gateway = [rss(0.5, 500), rss(1.5, 100), rss(2.5, 105), rss(3.5, 110), rss(3.9, 120)];
  const f = soakFigures(samples, gateway, { steadyFromS: 1, steadyToS: 4 });
  assertEquals(f.streams, { gateway: 4, direct: 1 });
  assertEquals(f.errors.gateway, 1);
  assertEquals(f.errors.examples, ["gateway: HTTP 502: bad gateway"]);
  assertEquals([f.addedHeadMs.p50, f.addedHeadMs.count], [3.5, 2]);
  assertEquals(f.ttftMs.direct.p50, 90);
  assertEquals([f.rss.firstThirdMb, f.rss.lastThirdMb, f.rss.maxMb], [100, 115, 500]);
  assert(Math.abs(f.rss.growth - 0.15) < 1e-9);
  const v = soakVerdicts(f);
  assertEquals(v, { errors: false, rss: false, rssFlat: false });
  const table = soakTable(f, parseSoakArgs([]), {
    atHealthyBytes: 90e6,
    settledBytes: 60e6,
    still: true,
    waitedS: 40,
  });
  assert(table.includes("FAIL"));
  assert(/idle, the moment it is healthy MB\s+90\.0/.test(table), table);
  assert(
    /idle after a 40 s wait MB \(mean of its last 5 s\)\s+60\.0/.test(table),
    table,
  );
});

Deno.test("parseSoakArgs() has the full run's defaults and rejects bad sizes", () => {
  const plan = parseSoakArgs([]);
  assertEquals([plan.concurrency, plan.durationS, plan.replicas], [1_000, 60, 4]);
  assert(plan.out.endsWith("bench/results/soak-latest.json"));
  assertEquals(parseSoakArgs(["--concurrency", "20", "--duration", "1.5"]).durationS, 1.5);
  throws(() => parseSoakArgs(["--concurrency", "0"]), UsageError);
  throws(() => parseSoakArgs(["--direct-every", "-1"]), UsageError);
  assertEquals([plan.idleSettleS, parseSoakArgs(["--idle-settle", "0"]).idleSettleS], [40, 0]);
  throws(() => parseSoakArgs(["--idle-settle", "-5"]), UsageError);
});

Deno.test("bench soak at a tiny size holds its streams through a gateway process without errors", async () => {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-soak-test-" });
  try {
    const out = join(dir, "soak.json");
    const code = await soakBench.run([
      "--concurrency=12",
      "--duration=2",
      "--ramp=0.5",
      "--token-ms=40",
      "--max-tokens=8",
      "--direct-every=4",
      "--sample=0.25",
      "--idle-settle=0",
      `--out=${out}`,
    ]);
    assertEquals(code, 0);
    const result = JSON.parse(await Deno.readTextFile(out));
    assertEquals(result.figures.errors, { gateway: 0, direct: 0, examples: [] });
    assertEquals(result.verdicts.errors, true);
    // Each slot replaced its ~0.4 s streams several times over the 2.5 s.
    assert(result.figures.streams.gateway >= 9 * 3, JSON.stringify(result.figures.streams));
    assert(result.figures.streams.direct >= 3);
    assert(result.figures.addedHeadMs.count > 0);
    assert(result.figures.rss.maxMb > 10, "the gateway's RSS was sampled");
    assert(result.gatewaySamples.length >= 4);
    assert(result.idleRssBytes > 10e6, "the idle gateway's RSS was read");
    assertEquals(result.idleSettled, { rssBytes: null, afterS: 0, still: false });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serveTaskV8Flags() reads the serve task's --v8-flags, and the soak's gateway gets them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-soak-flags-" });
  try {
    const file = join(dir, "deno.json");
    await Deno.writeTextFile(
      file,
      JSON.stringify({ tasks: { serve: "deno run -A --v8-flags=--a=1,--b main.ts serve" } }),
    );
    assertEquals(serveTaskV8Flags(file), "--a=1,--b");
    await Deno.writeTextFile(
      file,
      JSON.stringify({ tasks: { serve: "deno run -A main.ts serve" } }),
    );
    assertEquals(serveTaskV8Flags(file), "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assertEquals(parseSoakArgs([]).gatewayV8Flags, serveTaskV8Flags());
  assertEquals(parseSoakArgs(["--gateway-v8-flags="]).gatewayV8Flags, "");
});

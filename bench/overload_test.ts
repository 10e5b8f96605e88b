import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import { join } from "node:path";
import { parse } from "yaml";
import { UsageError } from "../config/mod.ts";
import { overloadBench, overloadTable, parseOverloadArgs } from "./overload.ts";
import {
  fillerText,
  GAVE_UP,
  isOpenAiError,
  poissonArrivals,
  type RequestSample,
} from "./overload/load.ts";
import { renderOverloadSvg } from "./overload/plot.ts";
import { overloadConfig } from "./overload/run.ts";
import {
  type LevelFigures,
  overloadVerdicts,
  referenceLevel,
  runFigures,
} from "./overload/summary.ts";

function sample(sentMs: number, extra: Partial<RequestSample> = {}): RequestSample {
  return {
    sentMs,
    status: 200,
    headMs: 2,
    ttftMs: 100,
    endMs: sentMs + 500,
    outputTokens: 64,
    retryAfter: false,
    openaiError: false,
    error: undefined,
    ...extra,
  };
}

function level(load: number, extra: Partial<LevelFigures> = {}): LevelFigures {
  return {
    load,
    offeredPerS: load * 10,
    sent: 100,
    goodputPerS: Math.min(load, 1) * 10,
    tokensPerS: 640,
    ttftMs: { p50: 100, p99: 200, count: 100 },
    shed: 0,
    shedClear: 0,
    rejectMs: { p50: NaN, p99: NaN, max: NaN },
    timeouts: 0,
    otherErrors: 0,
    abandoned: 0,
    examples: [],
    circuits: { opened: 0, failed: 0, polls: 10 },
    ...extra,
  };
}

Deno.test("poissonArrivals() is seeded and averages the asked rate", () => {
  const a = poissonArrivals(50, 100, 7);
  assertEquals(a, poissonArrivals(50, 100, 7));
  assert(a.join() !== poissonArrivals(50, 100, 8).join());
  // 5,000 expected; a Poisson count's sd is ~71.
  assert(Math.abs(a.length - 5_000) < 300, String(a.length));
  assert(a.every((t, i) => t < 100_000 && (i === 0 || t >= a[i - 1]!)));
});

Deno.test("fillerText() is as long as asked and isOpenAiError() knows the error shape", () => {
  assertEquals(fillerText(60_000).length, 60_000);
  assert(
    isOpenAiError('{"error":{"message":"busy","type":"overloaded","param":null,"code":null}}'),
  );
  assert(!isOpenAiError('{"detail":"busy"}'));
  assert(!isOpenAiError("<html>busy</html>"));
});

Deno.test("runFigures() counts goodput in the window and sorts failures by kind", () => {
  const samples = [
    sample(0), // sent before the window, ended in it: goodput only
    sample(1_000),
    sample(1_500, { ttftMs: 300 }),
    sample(1_600, {
      status: 429,
      retryAfter: true,
      openaiError: true,
      error: "HTTP 429: x",
      headMs: 4,
      ttftMs: undefined,
    }),
    sample(1_700, {
      status: 503,
      retryAfter: false,
      openaiError: true,
      error: "HTTP 503: y",
      headMs: 8,
      ttftMs: undefined,
    }),
    sample(1_800, { status: 504, error: "HTTP 504: z", ttftMs: undefined }),
    sample(1_900, { status: 0, error: GAVE_UP, ttftMs: undefined, endMs: 9_000 }),
    sample(2_000, { status: 200, error: "the stream ended without [DONE]" }),
  ];
  const f = runFigures(samples, { fromS: 0.4, toS: 2.4 });
  assertEquals(f.sent, 7);
  // sample(0) ends at 500, sample(1000) at 1500, sample(1500) at 2000.
  assertEquals(f.goodputPerS, 3 / 2);
  assertEquals(f.tokensPerS, 3 * 64 / 2);
  assertEquals(f.ttftMs.count, 3);
  assertEquals([f.shed, f.shedClear, f.timeouts, f.otherErrors, f.abandoned], [2, 1, 1, 1, 1]);
  assertEquals(f.rejectMs.max, 8);
});

Deno.test("overloadVerdicts() judges goodput from capacity, TTFT from the 0.8x level, refusals and circuits", () => {
  const good = [
    level(0.5),
    level(0.8),
    level(1),
    level(3, {
      ttftMs: { p50: 150, p99: 390, count: 50 },
      shed: 200,
      shedClear: 200,
      rejectMs: { p50: 1, p99: 3, max: 5 },
    }),
  ];
  const v = overloadVerdicts(good, 10);
  assertEquals(v.referenceLoad, 0.8);
  assertEquals([v.goodput, v.ttft, v.rejections, v.circuits], [true, true, true, true]);
  assertEquals(v.perLevel[0]!.goodput, undefined);
  const bad = [
    level(0.8),
    level(2, { goodputPerS: 8.5 }),
    level(3, {
      ttftMs: { p50: 900, p99: 5_000, count: 50 },
      timeouts: 3,
      circuits: { opened: 1, failed: 6, polls: 10 },
    }),
    level(1.5, { shed: 4, shedClear: 3, rejectMs: { p50: 1, p99: 2, max: 2 } }),
  ];
  const w = overloadVerdicts(bad, 10);
  assertEquals([w.goodput, w.ttft, w.rejections, w.circuits], [false, false, false, false]);
  assertEquals(w.perLevel.map((p) => p.rejections), [true, true, false, false]);
  // Slow refusals fail too, though clear.
  const slow = overloadVerdicts([
    level(0.8),
    level(2, { shed: 5, shedClear: 5, rejectMs: { p50: 300, p99: 900, max: 900 } }),
  ], 10);
  assertEquals(slow.rejections, false);
  assert(overloadTable(level(1), 10, bad).includes("FAIL"));
});

Deno.test("referenceLevel() falls back to the highest load below capacity", () => {
  assertEquals(referenceLevel([level(0.5), level(0.9), level(2)])?.load, 0.9);
  assertEquals(referenceLevel([level(1), level(2)]), undefined);
});

Deno.test("overloadConfig() merges extra sections into the generated config", () => {
  const yaml = overloadConfig(["http://127.0.0.1:1"], "/tmp/x", 10, {
    proxy: { request_timeout: 30 },
    admission: { queue: 10 },
  });
  const config = parse(yaml);
  assertEquals(config.proxy.request_timeout, 30);
  assertEquals(config.proxy.host, "127.0.0.1");
  assertEquals(config.admission, { queue: 10 });
  assertEquals(config.models[0].endpoints, ["http://127.0.0.1:1"]);
});

Deno.test("parseOverloadArgs() has the full run's defaults and rejects bad values", () => {
  const plan = parseOverloadArgs([]);
  assertEquals(plan.levels, [0.5, 0.8, 1, 1.5, 2, 3]);
  assertEquals([plan.replicas, plan.promptTokens, plan.capacityClients], [2, 15_000, 32]);
  assert(plan.out.endsWith("bench/results/overload-latest.json"));
  throws(() => parseOverloadArgs(["--levels", "1,x"]), UsageError);
  throws(() => parseOverloadArgs(["--warmup", "40"]), UsageError);
  throws(() => parseOverloadArgs(["--replicas", "1.5"]), UsageError);
});

Deno.test("renderOverloadSvg() draws a curve a series with the capacity and TTFT target lines", () => {
  const svg = renderOverloadSvg([
    {
      label: "after",
      points: [{ load: 0.5, goodputPerS: 5, ttftP99Ms: 100 }, {
        load: 3,
        goodputPerS: 9.5,
        ttftP99Ms: 180,
      }],
    },
    {
      label: "before <admission>",
      points: [{ load: 0.5, goodputPerS: 5, ttftP99Ms: 100 }, {
        load: 3,
        goodputPerS: 7,
        ttftP99Ms: 9_000,
      }],
    },
  ], { subtitle: "test", capacityPerS: 10, referenceTtftP99Ms: 120, referenceLoad: 0.8 });
  assertEquals(svg.match(/<polyline/g)?.length, 4);
  assert(svg.includes("before &lt;admission&gt;"));
  assert(svg.includes("target: 2x p99 at 0.8x load"));
});

Deno.test("bench overload at a tiny size measures capacity and every level through a gateway process", async () => {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-overload-test-" });
  try {
    const out = join(dir, "overload.json");
    const code = await overloadBench.run([
      "--levels=0.5,2",
      "--duration=3",
      "--warmup=0.5",
      "--grace=3",
      "--prompt-tokens=2000",
      "--max-tokens=16",
      "--capacity-clients=4",
      "--time-scale=2",
      `--out=${out}`,
    ]);
    assertEquals(code, 0);
    const result = JSON.parse(await Deno.readTextFile(out));
    assert(result.capacityPerS > 0);
    assertEquals(result.levels.map((l: LevelFigures) => l.load), [0.5, 2]);
    const low = result.levels[0] as LevelFigures;
    assert(low.sent > 0 && low.goodputPerS > 0, JSON.stringify(low));
    assertEquals(low.otherErrors, 0);
    assert(low.circuits.polls > 0);
    assertEquals(result.verdicts.perLevel.length, 2);
    assert((await Deno.readTextFile(join(dir, "overload.svg"))).startsWith("<svg"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

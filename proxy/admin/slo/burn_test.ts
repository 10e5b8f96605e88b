import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { objectiveBurns, type SloSample, sloSample, worstBurn } from "./burn.ts";
import { record } from "../../_record_fixture.ts";

Deno.test("sloSample() takes a stream's TTFT and mean time per token after the first, and leaves out client errors", () => {
  const sample = sloSample(record(5, {
    upstreamTtftMs: 100,
    upstreamMs: 1000,
    completionTokens: 10,
    routeArm: "canary",
  }));
  assertEquals(sample, { atMs: 5, error: false, ttftMs: 100, itlMs: 100, arm: "canary" });
  assertEquals(sloSample(record(5, { status: 429 })), undefined);
  assertEquals(sloSample(record(5, { status: 499 })), undefined);
  assertEquals(sloSample(record(5, { model: "" })), undefined);
  assertEquals(sloSample(record(5, { status: 502, upstreamTtftMs: undefined }))?.error, true);
});

Deno.test("objectiveBurns() divides the share over a p95 target by 5% and the error rate by its target", () => {
  const samples: SloSample[] = Array.from({ length: 100 }, (_, i) => ({
    atMs: i,
    ttftMs: i < 90 ? 100 : 900,
    itlMs: 10,
    error: i < 2,
  }));
  const burns = objectiveBurns(samples, { ttft_p95_ms: 500, itl_p95_ms: 50, error_rate: 0.01 });
  assertEquals(burns.map((b) => [b.objective, b.burn, b.samples]), [
    ["ttft_p95", 2, 100],
    ["itl_p95", 0, 100],
    ["error_rate", 2, 100],
  ]);
  assertEquals(burns[0]?.value, 900);
  assertEquals(worstBurn(burns), 2);
});

Deno.test("objectiveBurns() gives no value or burn without samples", () => {
  const burns = objectiveBurns([], { ttft_p95_ms: 500, error_rate: 0.01 });
  assertEquals(burns.map((b) => [b.value, b.burn, b.samples]), [[null, null, 0], [null, null, 0]]);
  assertEquals(worstBurn(burns), null);
});

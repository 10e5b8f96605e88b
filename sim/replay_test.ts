import { assertEquals, assertGreater } from "./_assert.ts";
import { VirtualClock } from "./clock.ts";
import { percentiles, replayTrace } from "./replay.ts";
import type { TraceRecord } from "./trace.ts";

Deno.test("replayTrace() on a virtual clock finishes every request with no lag and finds shared prefixes", async () => {
  const records: TraceRecord[] = Array.from({ length: 40 }, (_, i) => ({
    timestamp: i * 200,
    input_length: 6000 + (i % 5) * 512,
    output_length: 20,
    hash_ids: [...Array.from({ length: 10 }, (_, k) => (i % 4) * 100 + k), 1000 + i, 2000 + i],
  }));
  const clock = new VirtualClock();
  const pending = replayTrace(records, { clock, replicas: 2 });
  clock.runUntilIdle();
  const report = await pending;
  assertEquals(report.sent, 40);
  assertEquals(report.finished, 40);
  assertEquals(report.stepLagMs.max, 0);
  assertGreater(report.prefixHitRate, 0.5);
});

Deno.test("percentiles() reads the median, the 99th percentile and the maximum", () => {
  const p = percentiles(Array.from({ length: 100 }, (_, i) => i + 1));
  assertEquals([p.p50, p.p99, p.max, p.mean], [51, 100, 100, 50.5]);
});

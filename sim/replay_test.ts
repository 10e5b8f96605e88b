import { assertEquals, assertGreater } from "./_assert.ts";
import { VirtualClock } from "./clock.ts";
import { replayTrace } from "./replay.ts";
import type { TraceRequest } from "./trace.ts";

Deno.test("replayTrace() on a virtual clock finishes every request with no lag and finds shared prefixes", async () => {
  const records: TraceRequest[] = Array.from({ length: 40 }, (_, i) => ({
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

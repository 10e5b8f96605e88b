import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { generateMixedTrace } from "./generate.ts";
import { conversations, idealHitRate } from "./trace.ts";

Deno.test("generateMixedTrace gives the same trace for the same seed", () => {
  assertEquals(
    generateMixedTrace({ requests: 50, seed: 3 }),
    generateMixedTrace({ requests: 50, seed: 3 }),
  );
  assert(
    JSON.stringify(generateMixedTrace({ requests: 50, seed: 3 })) !==
      JSON.stringify(generateMixedTrace({ requests: 50, seed: 4 })),
  );
});

Deno.test("generateMixedTrace is mostly single-turn, short, sorted and consistent", () => {
  const trace = generateMixedTrace({ requests: 600, ratePerSecond: 10 });
  assertEquals(trace.length, 600);
  for (let i = 1; i < trace.length; i++) assert(trace[i]!.timestamp >= trace[i - 1]!.timestamp);
  for (const r of trace) {
    assertEquals(r.hash_ids.length, Math.ceil(r.input_length / 512));
    assert(r.input_length <= 16 * 512);
  }
  const sessions = new Set(conversations(trace)).size;
  assert(sessions > trace.length / 2, `${sessions} conversations`);
  // Each request names its conversation: a next turn repeats all of its conversation's last prompt.
  const last = new Map<string, number[]>();
  for (const r of trace) {
    const before = last.get(r.session_id!);
    if (before) assertEquals(r.hash_ids.slice(0, before.length), before);
    last.set(r.session_id!, r.hash_ids);
  }
  assertEquals(last.size, sessions);
  const rate = idealHitRate(trace);
  assert(rate > 0.1 && rate < 0.7, `ceiling ${rate}`);
  // About ten arrivals a second: half of the 600 within about 30 s.
  const seconds = trace[300]!.timestamp / 1000;
  assert(seconds > 20 && seconds < 45, `${seconds} s`);
});

Deno.test("generateMixedTrace spaces a conversation's turns by turnGapMs", () => {
  const trace = generateMixedTrace({ requests: 400, turnGapMs: [60_000, 90_000] });
  const last = new Map<string, number>();
  let gaps = 0;
  for (const r of trace) {
    const before = last.get(r.session_id!);
    if (before !== undefined) {
      const gap = r.timestamp - before;
      assert(gap >= 59_999 && gap <= 90_001, `a gap of ${gap} ms`);
      gaps++;
    }
    last.set(r.session_id!, r.timestamp);
  }
  assert(gaps > 20, `${gaps} gaps`);
});

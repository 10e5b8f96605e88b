import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { EventQueueClock, overlaidTrace, traceCopies, virtualRun } from "./virtual.ts";
import { decisionBench } from "./decision.ts";
import type { TraceRequest } from "../../sim/mod.ts";

Deno.test("EventQueueClock fires timers in time order, ties in scheduling order, skipping cancelled ones", () => {
  const clock = new EventQueueClock();
  const seen: string[] = [];
  clock.at(30, () => seen.push("c"));
  clock.at(10, () => {
    seen.push("a");
    clock.at(20, () => seen.push("b"));
    clock.at(10, () => seen.push("a2"));
  });
  const cancelled = clock.at(15, () => seen.push("never"));
  clock.at(30, () => seen.push("c2"));
  cancelled.cancel();
  assertEquals(clock.run(), 30);
  assertEquals(seen, ["a", "a2", "b", "c", "c2"]);
});

/** Conversations of three growing turns, 8 s apart, one starting every second. */
function trace(conversations: number): TraceRequest[] {
  const out: TraceRequest[] = [];
  for (let c = 0; c < conversations; c++) {
    for (let turn = 0; turn < 3; turn++) {
      const blocks = 4 * (turn + 1);
      out.push({
        timestamp: c * 1_000 + turn * 8_000,
        input_length: blocks * 512 + 100,
        output_length: 20,
        hash_ids: Array.from({ length: blocks + 1 }, (_, i) => c * 100 + i),
      });
    }
  }
  return out.sort((a, b) => a.timestamp - b.timestamp);
}

Deno.test("overlaidTrace scales the arrival rate with disjoint copies of the trace", () => {
  assertEquals([traceCopies(4), traceCopies(8), traceCopies(6), traceCopies(256)], [1, 2, 2, 64]);
  const t = trace(2);
  const two = overlaidTrace(t, 2);
  assertEquals(two.length, 12);
  const ids = new Set(two.flatMap((r) => r.hash_ids));
  assertEquals(ids.size, 2 * new Set(t.flatMap((r) => r.hash_ids)).size);
  assert(two.every((r, i) => i === 0 || r.timestamp >= two[i - 1]!.timestamp));
});

Deno.test("virtualRun replays through the real strategies on engines: prefix_aware keeps conversations' caches, round robin does not", () => {
  const t = trace(12);
  const options = { replicas: 4, maxModelLen: 131_072 };
  const prefix = virtualRun(t, "prefix_aware", options);
  const again = virtualRun(t, "prefix_aware", options);
  const rr = virtualRun(t, "round_robin", options);
  assertEquals(prefix.requests, 36);
  assertEquals(prefix.failed, 0);
  // No wall time in it: the same trace gives the same replay.
  assertEquals(again.hitRate, prefix.hitRate);
  assertEquals(again.ttftMs.mean, prefix.ttftMs.mean);
  // The ceiling: turns 2 and 3 find 4 of 8 and 8 of 12 blocks cached, about half the prompt tokens.
  assert(prefix.hitRate > 0.4, `prefix_aware hit rate ${prefix.hitRate}`);
  assert(rr.hitRate < prefix.hitRate, `round robin ${rr.hitRate} against ${prefix.hitRate}`);
  assert(prefix.ttftMs.mean < rr.ttftMs.mean);
  assert(prefix.estimateMaeTokens < 600, `estimate error ${prefix.estimateMaeTokens}`);
  const wide = virtualRun(t, "prefix_aware", { ...options, replicas: 8 });
  assertEquals([wide.traceCopies, wide.requests], [2, 72]);
});

Deno.test("virtualRun with pinConversations keeps each conversation on one replica: every later turn finds its history", () => {
  const t = trace(12);
  const options = { replicas: 4, maxModelLen: 131_072, pinConversations: true };
  const pinned = virtualRun(t, "baseline", options);
  const random = virtualRun(t, "baseline", { ...options, pinConversations: false });
  assertEquals(pinned.strategy, "affinity");
  assertEquals(pinned.failed, 0);
  // Turns 2 and 3 find all 4 and 8 full blocks of the turn before: (4 + 8) * 512 tokens hit of
  // the three turns' 12 * 512 + 300 prompt tokens, in every conversation.
  assertEquals(pinned.hitRate, (12 * 512) / (24 * 512 + 300));
  assert(random.hitRate < pinned.hitRate, `random ${random.hitRate} against ${pinned.hitRate}`);
  // Conversations start on the replica that has served the fewest requests: 3 each.
  assertEquals(pinned.requestImbalance, 1);
});

Deno.test("virtualRun with gatewayQueue holds what the replicas' KV cannot take in the gateway's queue, and still serves it all", () => {
  const t = trace(12);
  // One replica with room for one longest prompt: a turn that comes while another is in flight
  // must wait at the gateway.
  const options = { replicas: 1, maxModelLen: 131_072, kvTokens: 7_000 };
  const direct = virtualRun(t, "prefix_aware", options);
  const queued = virtualRun(t, "prefix_aware", { ...options, gatewayQueue: true });
  const again = virtualRun(t, "prefix_aware", { ...options, gatewayQueue: true });
  assertEquals([direct.gatewayWaits, direct.failed], [0, 0]);
  assertEquals([queued.requests, queued.failed, queued.ttftMs.count], [36, 0, 36]);
  assert(queued.gatewayWaits > 0, `${queued.gatewayWaits} waited`);
  assertEquals([again.gatewayWaits, again.ttftMs.mean], [queued.gatewayWaits, queued.ttftMs.mean]);
});

Deno.test("decisionBench times one pick among the replicas and the router's memory per replica", async () => {
  const d = await decisionBench("prefix_aware", {
    replicas: 8,
    promptChars: 20_000,
    cacheTokens: 40_000,
    decisions: 500,
  });
  assertEquals([d.replicas, d.promptBlocks, d.decisions], [8, 9, 500]);
  assert(d.pickUs.p50 > 0 && d.pickUs.p99 >= d.pickUs.p50, JSON.stringify(d.pickUs));
  assertEquals(d.blocksPerReplica, 79);
  // Nine blocks of 79 a replica, in a Map and a queue: some KiB, not nothing and not megabytes.
  assert(d.bytesPerReplica > 1_000 && d.bytesPerReplica < 1_000_000, `${d.bytesPerReplica} B`);
});

Deno.test("virtualRun through two gateways sharing session heads keeps most of one gateway's hits", () => {
  const t = trace(12);
  const options = { replicas: 4, maxModelLen: 131_072 };
  const one = virtualRun(t, "prefix_aware", options);
  const two = virtualRun(t, "prefix_aware", { ...options, gateways: 2 });
  assertEquals(two.strategy, "prefix_aware x2 gateways");
  assertEquals(two.requests, 36);
  assert(two.hitRate >= 0.8 * one.hitRate, `${two.hitRate} against ${one.hitRate}`);
});

Deno.test("virtualRun reports the replicas' mean queue time, longer when the same burst meets fewer replicas", () => {
  // Twelve first turns within a second: one replica has to queue them, four share them.
  const burst = trace(12).filter((r) => r.timestamp < 12_000).map((r, i) => ({
    ...r,
    timestamp: i * 50,
  }));
  const options = { maxModelLen: 131_072 };
  const one = virtualRun(burst, "round_robin", { ...options, replicas: 1 });
  const four = virtualRun(burst, "round_robin", { ...options, replicas: 4 });
  assert(Number.isFinite(four.queueMeanMs) && four.queueMeanMs >= 0, String(four.queueMeanMs));
  assert(one.queueMeanMs > four.queueMeanMs, `${one.queueMeanMs} against ${four.queueMeanMs}`);
});

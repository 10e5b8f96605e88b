import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { turnBreakdown, wallMs } from "./breakdown.ts";
import { record } from "../../_record_fixture.ts";

Deno.test("turnBreakdown() splits a stream's time into agent, gateway, network, replica queue, prefill and decode", () => {
  const parts = turnBreakdown(record(0, {
    stream: true,
    clientPreMs: 300,
    clientPostMs: 200,
    queueMs: 40,
    gatewayMs: 45,
    upstreamHeadMs: 10,
    upstreamTtftMs: 110,
    upstreamMs: 510,
    replicaQueueMs: 60,
  }));
  assertEquals(parts, {
    agent_pre: 300,
    agent_post: 200,
    gateway_queue: 40,
    gateway: 5,
    network: 10,
    replica_queue: 60,
    prefill: 40,
    decode: 400,
  });
  assertEquals(wallMs(parts), 1055);
});

Deno.test("turnBreakdown() caps the replica's queue estimate at what the first token left, and counts a whole answer's time as decode", () => {
  const capped = turnBreakdown(record(0, {
    stream: true,
    gatewayMs: 1,
    upstreamHeadMs: 5,
    upstreamTtftMs: 25,
    upstreamMs: 50,
    replicaQueueMs: 400,
  }));
  assertEquals([capped.replica_queue, capped.prefill], [20, 0]);
  const whole = turnBreakdown(record(0, {
    gatewayMs: 2,
    upstreamTtftMs: undefined,
    upstreamMs: 90,
    replicaQueueMs: 30,
  }));
  assertEquals(whole, { gateway: 2, replica_queue: 30, decode: 60 });
});

Deno.test("turnBreakdown() of a refusal is the gateway's time only", () => {
  assertEquals(
    turnBreakdown(record(0, { backendId: undefined, upstreamMs: undefined, gatewayMs: 3 })),
    { gateway: 3 },
  );
});

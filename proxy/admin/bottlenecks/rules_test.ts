/** The rules on records captured from a real gateway over simulated replicas (testdata/capture.ts). */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import type { RequestRecord } from "../../records.ts";
import { RequestRecordSchema } from "../../record_schema.ts";
import { z } from "zod";
import {
  agentBound,
  decodeBound,
  failing,
  gatewayBound,
  gatewayQueueing,
  kvPressure,
  networkBound,
  prefillBound,
  replicaQueueing,
  RULES,
} from "./rules.ts";
import { turnStats } from "./turn_stats.ts";

/** A scenario's records, parsed as the record log parses KV records (JSON leaves out undefined fields). */
async function recorded(name: string): Promise<RequestRecord[]> {
  const text = await Deno.readTextFile(new URL(`./testdata/${name}.json`, import.meta.url));
  const keys = Object.keys(RequestRecordSchema.shape);
  const rows = z.array(z.record(z.string(), z.unknown())).parse(JSON.parse(text));
  return rows.map((row) =>
    RequestRecordSchema.parse(Object.fromEntries(keys.map((k) => [k, row[k]])))
  );
}

async function statsOf(name: string) {
  const records = await recorded(name);
  return turnStats(records, records[0]!.model);
}

/** The rules that fire on a scenario's records. */
async function firing(name: string): Promise<string[]> {
  const stats = await statsOf(name);
  return RULES.map((rule) => rule(stats)?.rule).filter((r) => r !== undefined);
}

Deno.test("replicaQueueing() fires on one replica with room for 2 sequences and 16 agents, naming the p95 waiting", async () => {
  const found = replicaQueueing(await statsOf("replica_queueing"));
  assert(found, "no finding");
  assert(/p95 waiting \d+/.test(found.cause), found.cause);
  assert(found.recommendation.includes("max_num_seqs"), found.recommendation);
  assert(found.evidence.waiting_p95! >= 1);
  assertEquals(await firing("replica_queueing"), ["replica_queueing"]);
});

Deno.test("prefillBound() fires on long unshared prompts routed round robin, with the prefix hit rate, and recommends prefix_aware", async () => {
  const found = prefillBound(await statsOf("prefill_bound"));
  assert(found, "no finding");
  assert(found.cause.includes("prefix hits"), found.cause);
  assert(found.recommendation.includes("prefix_aware"), found.recommendation);
  assertEquals(await firing("prefill_bound"), ["prefill_bound"]);
});

Deno.test("kvPressure() fires on a small KV cache that preempts, recommending gpu_memory_utilization, a host tier or fp8", async () => {
  const found = kvPressure(await statsOf("kv_pressure"));
  assert(found, "no finding");
  assertEquals(found.severity, "critical");
  for (const advice of ["gpu_memory_utilization", "--kv-offloading-size", "fp8"]) {
    assert(found.recommendation.includes(advice), found.recommendation);
  }
  assert(found.evidence.kv_usage_max! >= 0.95);
  assert(found.evidence.turns_with_preemptions! > 0);
});

Deno.test("decodeBound() fires at a batch of 80 long answers as load, and as long outputs at a small batch", async () => {
  const high = decodeBound(await statsOf("decode_bound"));
  assert(high, "no finding");
  assertEquals(high.severity, "warning");
  assert(/^Decode-bound at batch \d+/.test(high.cause), high.cause);
  assert(high.recommendation.includes("Add replicas"), high.recommendation);
  const low = decodeBound(await statsOf("kv_pressure"));
  assertEquals(low?.severity, "info");
  assertEquals(await firing("decode_bound"), ["decode_bound"]);
});

Deno.test("agentBound() fires when the timing headers show the agent's tools take most of each turn", async () => {
  const found = agentBound(await statsOf("agent_bound"));
  assert(found, "no finding");
  assert(found.cause.includes("the GPUs are not the bottleneck"), found.cause);
  assertEquals(await firing("agent_bound"), ["agent_bound"]);
});

Deno.test("gatewayQueueing() fires when admission caps each replica at one request in flight", async () => {
  const found = gatewayQueueing(await statsOf("gateway_queueing"));
  assert(found, "no finding");
  assert(found.recommendation.includes("max_in_flight_per_replica"), found.recommendation);
  assertEquals(await firing("gateway_queueing"), ["gateway_queueing"]);
});

Deno.test("failing() fires once a quarter of the recorded turns failed with a 5xx, and not before", async () => {
  const records = await recorded("agent_bound");
  assertEquals(failing(turnStats(records, "m")), undefined);
  const broken = records.map((r, i) => i % 4 === 0 ? { ...r, status: 502 } : r);
  const found = failing(turnStats(broken, "m"));
  assert(found, "no finding");
  assertEquals(found.evidence.error_rate, 0.25);
});

Deno.test("turnStats() takes the prefix hit rate from the replicas' usage when they report cached tokens", async () => {
  const records = await recorded("prefill_bound");
  assertEquals(turnStats(records, "m").replicaPrefixHitRate, 0);
  const cached = records.map((r) => ({ ...r, promptTokens: 1000, cachedTokens: 900 }));
  const stats = turnStats(cached, "m");
  assertEquals(stats.replicaPrefixHitRate, 0.9);
  assertEquals(prefillBound(stats), undefined);
});

Deno.test("networkBound() fires when recorded streams take most of their time to reach the replica's head, and not on loopback", async () => {
  const records = await recorded("prefill_bound");
  assertEquals(networkBound(turnStats(records, "m")), undefined);
  // The same turns with 300 ms more to the answer's head, as across a slow link.
  const far = records.map((r) => ({
    ...r,
    upstreamHeadMs: r.upstreamHeadMs! + 300,
    upstreamTtftMs: r.upstreamTtftMs! + 300,
    upstreamMs: r.upstreamMs! + 300,
  }));
  const found = networkBound(turnStats(far, "m"));
  assert(found, "no finding");
  assert(found.evidence.network_p95_ms! >= 300);
});

Deno.test("gatewayBound() fires when the gateway's own time is a tenth of recorded turns, and not as recorded", async () => {
  const records = await recorded("decode_bound");
  assertEquals(gatewayBound(turnStats(records, "m")), undefined);
  const slow = records.map((r) => ({ ...r, gatewayMs: r.gatewayMs + 500 }));
  const found = gatewayBound(turnStats(slow, "m"));
  assert(found, "no finding");
  assert(found.recommendation.includes("CPU"), found.recommendation);
});

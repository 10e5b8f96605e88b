import assert from "node:assert/strict";
import { percentile, runActorsBench } from "./actors.ts";

Deno.test("percentile() picks by nearest rank", () => {
  const values = Array.from({ length: 100 }, (_, i) => 100 - i);
  assert.equal(percentile(values, 0.5), 50);
  assert.equal(percentile(values, 0.99), 99);
  assert.equal(percentile([7], 0.99), 7);
  assert.ok(Number.isNaN(percentile([], 0.5)));
});

Deno.test("runActorsBench() measures every path on a small run", async () => {
  const r = await runActorsBench({ latencySamples: 200, messages: 2_000, durableMessages: 20 });
  assert.equal(r.local.tellToHandle.samples, 200);
  assert.equal(r.local.askRoundTrip.samples, 200);
  assert.ok(r.local.tellToHandle.p99Us >= r.local.tellToHandle.p50Us);
  assert.ok(r.local.msgsPerSecOneActor > 0 && r.local.msgsPerSecManyActors > 0);
  assert.equal(r.durable.tellToHandle.samples, 10);
  assert.ok(r.durable.msgsPerSecOneActor > 0 && r.durable.msgsPerSecTenActors > 0);
});

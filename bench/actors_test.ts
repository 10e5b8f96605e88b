import assert from "node:assert/strict";
import { runActorsBench } from "./actors.ts";

Deno.test("runActorsBench() measures every path on a small run", async () => {
  const r = await runActorsBench({ latencySamples: 200, messages: 2_000, durableMessages: 20 });
  assert.equal(r.local.tellToHandle.samples, 200);
  assert.equal(r.local.askRoundTrip.samples, 200);
  assert.ok(r.local.tellToHandle.p99Us >= r.local.tellToHandle.p50Us);
  assert.ok(r.local.msgsPerSecOneActor > 0 && r.local.msgsPerSecManyActors > 0);
  assert.equal(r.durable.tellToHandle.samples, 10);
  assert.ok(r.durable.msgsPerSecOneActor > 0 && r.durable.msgsPerSecTenActors > 0);
});

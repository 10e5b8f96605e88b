import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { ActorSystem, type Behavior, Logger } from "../../../actors/runtime/mod.ts";
import { Fleet } from "../../../actors/router/mod.ts";
import { ProxySchema } from "../../../config/mod.ts";
import { withKvPath } from "../../../actors/runtime/testdata/temp_kv.ts";
import { waitFor } from "../../../actors/runtime/testdata/wait.ts";
import { registerFleetMetrics } from "./fleet_metrics.ts";

const poison: Behavior<null, { type: "poison" }> = {
  kind: "poison",
  init: () => null,
  receive() {
    throw new Error("this handler always fails");
  },
};

function valueOf(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.slice(name.length + 1));
}

Deno.test("the actor metrics count dead letters in KV (listed at most every deadLetterEveryMs), undelivered tells and dropped log lines", async () => {
  await withKvPath("turnpike-fleet-metrics-", async (kvPath) => {
    const system = await ActorSystem.start({
      kvPath,
      behaviors: [poison],
      retryScheduleMs: [10],
      root: { intensity: 100, periodMs: 60_000 },
      recoverySweepsMs: [],
      onError: () => {},
    });
    const fleet = new Fleet(system, ProxySchema.parse({}));
    try {
      let clock = 0;
      const logger = new Logger({ maxPending: 0, write: () => {} });
      logger.info("dropped: the buffer holds nothing");
      const registry = new Registry();
      registerFleetMetrics(registry, { fleet, system, logger }, {
        deadLetterEveryMs: 1_000,
        now: () => clock,
      });
      const before = await registry.metrics();
      assert.equal(valueOf(before, "turnpike_actor_dead_letters"), 0);
      assert.equal(valueOf(before, "turnpike_log_lines_dropped_total"), 1);
      system.ref("nobody/here").tell({ type: "lost" });
      await system.tellDurable("poison/p", { type: "poison" });
      await waitFor("a dead letter", async () => (await system.deadLetters()).length === 1, {
        timeoutMs: 20_000,
      });
      const cached = await registry.metrics();
      assert.equal(valueOf(cached, "turnpike_actor_dead_letters"), 0, "listed again too soon");
      assert.equal(valueOf(cached, "turnpike_actor_undelivered_total"), 1);
      clock += 1_000;
      const after = await registry.metrics();
      assert.equal(valueOf(after, "turnpike_actor_dead_letters"), 1);
    } finally {
      await fleet.close();
      await system.shutdown();
    }
  });
});

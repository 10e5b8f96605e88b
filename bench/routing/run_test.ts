import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import { BASELINE, parseRunStrategy, strategyLabel } from "./run.ts";

Deno.test("parseRunStrategy reads names, the baseline and weighted combinations", () => {
  assertEquals(parseRunStrategy("least_load"), "least_load");
  assertEquals(parseRunStrategy(BASELINE), BASELINE);
  assertEquals(parseRunStrategy("prefix_aware=3+least_load=1"), { prefix_aware: 3, least_load: 1 });
  assertEquals(strategyLabel({ prefix_aware: 3, least_load: 1 }), "prefix_aware=3+least_load=1");
});

Deno.test("parseRunStrategy rejects unknown names and bad weights", () => {
  assertThrows(() => parseRunStrategy("fastest"), /Unknown strategy "fastest"/);
  assertThrows(() => parseRunStrategy("prefix_aware=0"), /Unknown strategy/);
  assertThrows(() => parseRunStrategy("prefix_aware=2+nope=1"), /"nope=1"/);
});

Deno.test({
  name: "runStrategy replays a small trace through the gateway and measures every request",
  sanitizeResources: true,
  sanitizeOps: true,
  async fn() {
    const { runStrategy } = await import("./run.ts");
    const { generateMixedTrace } = await import("./generate.ts");
    const trace = generateMixedTrace({
      requests: 36,
      ratePerSecond: 20,
      seed: 7,
      singleTurnShare: 0.5,
    });
    const options = { replicas: 2, timeScale: 20, model: "llama-3.1-8b-sim", seed: 1 };
    const routed = await runStrategy(trace, "prefix_aware", options);
    assertEquals(routed.failed, 0, routed.errors.join("; "));
    assertEquals(routed.requests, 36);
    assertEquals(routed.ttftMs.count, 36);
    assertEquals(Object.keys(routed.backendRequests).length, 2);
    assertEquals(Object.values(routed.backendRequests).reduce((a, b) => a + b, 0), 36);
    assertEquals(routed.hitRate > 0, true, `hit rate ${routed.hitRate}`);
    // The baseline runs on replicas with a host KV tier: they start with vLLM's offloading flags.
    const direct = await runStrategy(trace.slice(0, 12), BASELINE, {
      ...options,
      kvOffloadGib: 0.5,
    });
    assertEquals(direct.failed, 0, direct.errors.join("; "));
    assertEquals(direct.strategy, BASELINE);
    assertEquals(Object.values(direct.backendRequests).reduce((a, b) => a + b, 0), 12);
  },
});

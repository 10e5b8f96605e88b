import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { SloSchema } from "../../../config/slo_schema.ts";
import { ProxySchema } from "../../../config/schema.ts";
import { PickerSwitches } from "../../../actors/router/switchable_picker.ts";
import { createPicker, strategyOptions } from "../../../actors/router/strategies/mod.ts";
import { RecordStore } from "../../records.ts";
import { record } from "../../_record_fixture.ts";
import { SloTracker } from "../slo/mod.ts";
import { RoutingController } from "./controller.ts";

const config = SloSchema.parse({
  canary_min_requests: 3,
  models: { m: { ttft_p95_ms: 200 } },
});

function setup() {
  const now = { value: 1_000_000 };
  const records = new RecordStore();
  const switches = new PickerSwitches(
    "round_robin",
    (spec) => createPicker(spec, strategyOptions(ProxySchema.parse({}))),
  );
  switches.pickerFor("m");
  switches.pickerFor("n");
  const slo = new SloTracker({
    config,
    records,
    logger: { warn() {}, info() {} },
    armOf: (r) => switches.get(r.model)?.armOf(r.sessionId),
    now: () => now.value,
  });
  const lines: string[] = [];
  let changes = 0;
  const routing = new RoutingController({
    switches,
    slo,
    config,
    logger: { warn: (msg) => lines.push(msg), info: (msg) => lines.push(msg) },
    changed: () => changes++,
    now: () => now.value,
  });
  /** Records `n` requests of sessions on `arm`'s side with first tokens after `ttftMs`. */
  const traffic = (arm: "canary" | "incumbent", n: number, ttftMs: number) => {
    const picker = switches.get("m")!;
    let added = 0;
    for (let i = 0; added < n; i++) {
      const sessionId = `s-${i}`;
      if (picker.armOf(sessionId) !== arm) continue;
      records.add(record(now.value, { sessionId, upstreamTtftMs: ttftMs }));
      added++;
    }
  };
  return { now, switches, slo, routing, lines, traffic, changes: () => changes };
}

Deno.test("change() refuses an unknown model, a canary without a model or without objectives", () => {
  const { routing } = setup();
  const refusal = (input: Parameters<RoutingController["change"]>[0]) => {
    const result = routing.change(input);
    assert(!result.ok);
    return [result.refusal.status, result.refusal.param, result.refusal.code];
  };
  assertEquals(refusal({ model: "x", strategy: "least_load" }), [404, "model", "model_not_found"]);
  assertEquals(refusal({ strategy: "least_load", canary_share: 0.5 }), [
    400,
    "model",
    "invalid_routing_change",
  ]);
  assertEquals(refusal({ model: "n", strategy: "least_load", canary_share: 0.5 }), [
    400,
    "canary_share",
    "slo_required",
  ]);
});

Deno.test("change() without a model switches every model and the default, with a history entry each", () => {
  const { routing, switches, changes } = setup();
  const result = routing.change({ strategy: "least_load" });
  assertEquals(result, { ok: true, models: ["m", "n"] });
  assertEquals(switches.defaultStrategy, "least_load");
  assertEquals(routing.state().models.map((m) => [m.strategy, m.history[0]?.kind]), [
    ["least_load", "set"],
    ["least_load", "set"],
  ]);
  assertEquals(changes(), 2);
});

Deno.test("judge() rolls back a canary whose burn is worse, promotes one no worse, and rolls back one with too few requests", () => {
  for (
    const [canaryTtft, incumbentTtft, n, kind, strategy] of [
      [900, 50, 5, "rolled_back", "round_robin"],
      [50, 900, 5, "promoted", "least_load"],
      [50, 50, 2, "rolled_back", "round_robin"],
    ] as const
  ) {
    const { routing, now, traffic, slo, lines } = setup();
    routing.change({ model: "m", strategy: "least_load", canary_share: 0.5, canary_window: 10 });
    const running = routing.state(["m"]).models[0]!.canary!;
    assertEquals([running.strategy, running.share, running.window_s], ["least_load", 0.5, 10]);
    now.value += 1000;
    traffic("canary", n, canaryTtft);
    traffic("incumbent", n, incumbentTtft);
    now.value += 5000;
    slo.evaluate();
    assert(routing.state(["m"]).models[0]!.canary !== null, "judged before its window ended");
    now.value += 5000;
    slo.evaluate();
    const state = routing.state(["m"]).models[0]!;
    assertEquals([state.canary, state.strategy, state.history[0]?.kind], [null, strategy, kind]);
    assert(lines.some((l) => l.startsWith("Routing canary")), lines.join());
    slo.close();
    routing.close();
  }
});

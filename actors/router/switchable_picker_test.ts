import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { sessionPoint, SwitchablePicker } from "./switchable_picker.ts";
import { createPicker, pickNote, strategyOptions } from "./strategies/mod.ts";
import { ModelRouter } from "./model_router.ts";
import { RoutingTable } from "./routing_table.ts";
import { link, member, report } from "./_testing.ts";
import type { BackendView, RequestFeatures } from "./strategies/mod.ts";
import { ProxySchema } from "../../config/schema.ts";

const proxy = ProxySchema.parse({});
const build = (spec: Parameters<typeof createPicker>[0]) =>
  createPicker(spec, strategyOptions(proxy));

function views(...ids: string[]): BackendView[] {
  return ids.map((id) => ({
    id,
    url: `http://${id}`,
    inFlight: 0,
    ewmaTtftMs: undefined,
    load: undefined,
  }));
}

function tableOf(...ids: string[]): RoutingTable {
  let t = RoutingTable.EMPTY;
  for (const id of ids) t = t.put(member(id), report(id, true), link());
  return t;
}

function request(sessionId: string | undefined): RequestFeatures {
  return { model: "m", sessionId, prefixHashes: [], promptChars: 10 };
}

Deno.test("sessionPoint() spreads session ids that differ in their last characters evenly over [0, 1) and gives one id one point", () => {
  for (const count of [64, 2000]) {
    const points = Array.from({ length: count }, (_, i) => sessionPoint(`session-${i}`));
    assert(points.every((p) => p >= 0 && p < 1));
    for (const share of [0.1, 0.25, 0.5]) {
      const below = points.filter((p) => p < share).length / points.length;
      // Within about three standard deviations of a binomial draw.
      const sd = Math.sqrt(share * (1 - share) / count);
      assert(Math.abs(below - share) < 3 * sd + 0.01, `${count} ids, share ${share}: ${below}`);
    }
  }
  assertEquals(sessionPoint("abc"), sessionPoint("abc"));
});

Deno.test("SwitchablePicker routes a canary's share of sessions with its strategy and the rest with the incumbent's", () => {
  const picker = new SwitchablePicker("least_connections", build);
  const candidates = views("a", "b");
  // least_connections breaks ties in turn; consistent_hash keeps one session on one backend.
  picker.startCanary("consistent_hash", 0.5);
  const sessions = Array.from({ length: 40 }, (_, i) => `s-${i}`);
  const canary = sessions.filter((s) => picker.armOf(s) === "canary");
  assert(canary.length > 5 && canary.length < 35, String(canary.length));
  for (const s of canary) {
    const first = picker.pick(request(s), candidates)?.id;
    for (let i = 0; i < 5; i++) assertEquals(picker.pick(request(s), candidates)?.id, first);
  }
  assertEquals(picker.armOf(undefined), "incumbent");
  assertEquals(picker.canary, { strategy: "consistent_hash", share: 0.5 });
});

Deno.test("SwitchablePicker promotes a canary to every session, rolls one back, and set() ends one", () => {
  const picker = new SwitchablePicker("round_robin", build);
  picker.startCanary("least_load", 0.3);
  picker.promote();
  assertEquals([picker.strategy, picker.canary, picker.armOf("x")], [
    "least_load",
    undefined,
    undefined,
  ]);
  picker.startCanary("round_robin", 0.3);
  picker.rollback();
  assertEquals([picker.strategy, picker.canary], ["least_load", undefined]);
  picker.startCanary("round_robin", 0.3);
  picker.set({ least_load: 1, prefix_aware: 2 });
  assertEquals([picker.strategy, picker.canary], [{ least_load: 1, prefix_aware: 2 }, undefined]);
  assert(picker.pick(request("s"), views("a")) !== undefined);
});

Deno.test("SwitchablePicker's note names the side and strategy of a canary's pick, and ModelRouter's a retry as fallback", () => {
  const picker = new SwitchablePicker("round_robin", build);
  const note = pickNote();
  picker.pick(request("s"), views("a", "b"), note);
  assertEquals([note.strategy, note.arm], ["round_robin", undefined]);
  picker.startCanary("least_load", 0.5);
  const canary = Array.from({ length: 20 }, (_, i) => `s-${i}`).find((s) =>
    picker.armOf(s) === "canary"
  )!;
  picker.pick(request(canary), views("a", "b"), note);
  assertEquals([note.strategy, note.arm], ["least_load", "canary"]);
  const router = new ModelRouter("m", picker);
  router.publish(tableOf("a", "b"));
  router.pick(request("x"), new Set(["a"]), note);
  assertEquals(note.reason, "fallback");
});

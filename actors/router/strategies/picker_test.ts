import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import { createPicker, strategyOptions } from "./picker.ts";
import { STRATEGY_NAMES } from "./names.ts";
import { STRATEGIES } from "./registry.ts";
import { options, request, view } from "./_testing.ts";

Deno.test("the registry has a factory for every strategy name the config accepts", () => {
  for (const name of STRATEGY_NAMES) assertEquals(STRATEGIES[name](options()).name, name);
});

Deno.test("createPicker with round_robin cycles through the candidates", () => {
  const picker = createPicker("round_robin", options());
  const cs = [view("a"), view("b"), view("c")];
  const ids = Array.from({ length: 6 }, () => picker.pick(request(), cs)!.id);
  assertEquals(ids, ["a", "b", "c", "a", "b", "c"]);
});

Deno.test("pick() returns undefined without candidates and the only one otherwise", () => {
  const picker = createPicker("least_load", options());
  assertEquals(picker.pick(request(), []), undefined);
  assertEquals(picker.pick(request(), [view("x")])!.id, "x");
});

Deno.test("pick() breaks ties by taking turns, the same way every run", () => {
  const run = () => {
    const picker = createPicker("least_connections", options());
    const cs = [view("a"), view("b"), view("c")];
    return Array.from({ length: 4 }, () => picker.pick(request(), cs)!.id);
  };
  assertEquals(run(), ["a", "b", "c", "a"]);
  assertEquals(run(), run());
});

Deno.test("a weighted combination lets the heavier strategy decide", () => {
  const cs = [view("a", { inFlight: 1 }), view("b")];
  const prefixHeavy = createPicker({ prefix_aware: 3, least_connections: 1 }, options());
  prefixHeavy.pick(request([1, 2, 3]), [view("a")]);
  assertEquals(prefixHeavy.pick(request([1, 2, 3]), cs)!.id, "a");
  const loadHeavy = createPicker({ prefix_aware: 1, least_connections: 9 }, options());
  loadHeavy.pick(request([1, 2, 3]), [view("a")]);
  assertEquals(loadHeavy.pick(request([1, 2, 3]), cs)!.id, "b");
});

Deno.test("forget() reaches every strategy of the combination", () => {
  const picker = createPicker({ session_affinity: 1, prefix_aware: 1 }, options());
  picker.pick(request([1], "s"), [view("a")]);
  picker.forget("a");
  // With nothing known of a, the tie between two idle candidates goes to the cursor's turn.
  assertEquals(picker.pick(request([1], "s"), [view("a"), view("b")])!.id, "b");
});

Deno.test("createPicker rejects a weight map without a positive weight", () => {
  assertThrows(() => createPicker({ round_robin: 0 }, options()), /positive weight/);
});

Deno.test("strategyOptions converts the cache size from tokens to blocks of characters", () => {
  const o = strategyOptions({
    load_bound: 1.5,
    prefix_block_chars: 2048,
    prefix_cache_tokens: 430_000,
  });
  assertEquals(o.prefixCacheBlocks, 840);
  assertEquals(o.loadBound, 1.5);
});

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { emptyEwma, ewmaAdd, ewmaRead } from "./ewma.ts";

const options = { alpha: 0.5, halfLifeMs: 1_000 };

Deno.test("the first sample sets the average and later ones move it by alpha", () => {
  let e = emptyEwma();
  assertEquals(ewmaRead(e, 0, options), undefined);
  e = ewmaAdd(e, 100, 0, options);
  assertEquals(ewmaRead(e, 0, options), 100);
  e = ewmaAdd(e, 200, 0, options);
  assertEquals(ewmaRead(e, 0, options), 150);
});

Deno.test("an idle average halves every half-life", () => {
  const e = ewmaAdd(emptyEwma(), 80, 1_000, options);
  assert(Math.abs((ewmaRead(e, 2_000, options) ?? 0) - 40) < 1e-9);
  assert(Math.abs((ewmaRead(e, 3_000, options) ?? 0) - 20) < 1e-9);
});

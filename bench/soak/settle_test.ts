import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { idleRss, settledWindow } from "./settle.ts";

const mb = (atS: number, rss: number) => ({ atS, rssBytes: rss * 1e6 });

Deno.test("settledWindow() finds the first window that holds still for its span", () => {
  const samples = [mb(0, 240), mb(1, 238), mb(2, 180), mb(3, 150), mb(4, 151), mb(5, 150)];
  assertEquals(settledWindow(samples, { windowS: 2, tolerance: 0.01 }), {
    atS: 5,
    rssBytes: (150 + 151 + 150) / 3 * 1e6,
  });
});

Deno.test("settledWindow() says nothing while the memory still moves or the span is short", () => {
  assertEquals(settledWindow([mb(0, 100), mb(1, 100)], { windowS: 2, tolerance: 0.01 }), undefined);
  const falling = [0, 1, 2, 3, 4, 5].map((s) => mb(s, 200 - 10 * s));
  assertEquals(settledWindow(falling, { windowS: 2, tolerance: 0.01 }), undefined);
});

Deno.test("idleRss() reads this process's RSS at once, and settled after a still window", async () => {
  const quick = await idleRss(Deno.pid, 0, 0.05);
  assert((quick.atHealthyBytes ?? 0) > 1e6);
  assertEquals(quick.settledBytes, undefined);
  // An idle test process holds still within 50% over 0.2 s.
  const settled = await idleRss(Deno.pid, 5, 0.05, { windowS: 0.2, tolerance: 0.5 });
  assert((settled.settledBytes ?? 0) > 1e6, JSON.stringify(settled));
  assert(settled.settledAfterS >= 0.2 && settled.settledAfterS < 5, JSON.stringify(settled));
});

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { idleRss, lastWindow } from "./settle.ts";

const mb = (atS: number, rss: number) => ({ atS, rssBytes: rss * 1e6 });

Deno.test("lastWindow() averages the samples of the last seconds and gives their spread", () => {
  const samples = [mb(0, 240), mb(1, 238), mb(2, 180), mb(3, 150), mb(4, 153), mb(5, 150)];
  const last = lastWindow(samples, 2);
  assertEquals(last?.meanBytes, (150 + 153 + 150) / 3 * 1e6);
  assert(Math.abs((last?.spread ?? 0) - 0.02) < 1e-9);
  assertEquals(lastWindow([]), undefined);
});

Deno.test("idleRss() reads a process's RSS at once, and over a wait", async () => {
  const quick = await idleRss(Deno.pid, 0, 0.05);
  assert((quick.atHealthyBytes ?? 0) > 1e6);
  assertEquals([quick.settledBytes, quick.still, quick.waitedS], [undefined, false, 0]);
  const waited = await idleRss(Deno.pid, 0.3, 0.05);
  assert((waited.settledBytes ?? 0) > 1e6, JSON.stringify(waited));
  assert(waited.waitedS >= 0.3, JSON.stringify(waited));
});

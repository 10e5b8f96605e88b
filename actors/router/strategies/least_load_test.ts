import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { leastLoad } from "./least_load.ts";
import { loadCost, STALE_SCRAPE_MS } from "./_scores.ts";
import { options, request, view } from "./_testing.ts";

const NOW = 1_000_000;

function scraped(running: number, waiting: number, kvUsage: number, ageMs = 0) {
  return { running, waiting, kvUsage, scrapedAtMs: NOW - ageMs };
}

Deno.test("least_load prefers the replica with fewer waiting requests", () => {
  const s = leastLoad(options({}, NOW));
  const scores = s.score(request(), [
    view("a", { load: scraped(4, 6, 0.5) }),
    view("b", { load: scraped(4, 0, 0.5) }),
  ]);
  assertEquals(scores[1], 1);
  assert(scores[0]! < 0.5);
});

Deno.test("least_load counts KV usage and the gateway's own in-flight requests", () => {
  assertEquals(loadCost(view("a", { load: scraped(0, 0, 1) }), NOW), 4);
  assertEquals(loadCost(view("a", { inFlight: 3 }), NOW), 3);
  assertEquals(loadCost(view("a", { inFlight: 2, load: scraped(2, 1, 0.25) }), NOW), 5);
});

Deno.test("least_load ignores a stale scrape", () => {
  const stale = view("a", { inFlight: 1, load: scraped(50, 50, 1, STALE_SCRAPE_MS + 1) });
  assertEquals(loadCost(stale, NOW), 1);
});

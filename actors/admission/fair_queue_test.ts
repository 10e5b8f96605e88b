import * as assert from "node:assert/strict";
import type { PriorityClass } from "../../proxy/auth/principal.ts";
import { FairQueue } from "./fair_queue.ts";

const WEIGHTS = { high: 8, medium: 4, low: 1 };

Deno.test("shift() serves the higher class first when classes tie, and by rank then arrival within a class", () => {
  const queue = new FairQueue<string>(WEIGHTS);
  queue.push("low-a", "low", 0);
  queue.push("medium-late", "medium", 5);
  queue.push("medium-early", "medium", 1);
  queue.push("medium-tie", "medium", 1);
  queue.push("high", "high", 100);
  const served = [];
  for (let e = queue.shift(); e; e = queue.shift()) served.push(e.item);
  assert.deepEqual(served, ["high", "medium-early", "low-a", "medium-tie", "medium-late"]);
});

Deno.test("under sustained load every class is served at about its weight's share and low never starves", () => {
  const queue = new FairQueue<PriorityClass>(WEIGHTS);
  const served = { high: 0, medium: 0, low: 0 };
  // Keep every class backlogged: each served entry is replaced by one of its class.
  for (const c of ["high", "medium", "low"] as const) {
    for (let i = 0; i < 20; i++) queue.push(c, c, 0);
  }
  for (let i = 0; i < 1300; i++) {
    const entry = queue.shift()!;
    served[entry.item]++;
    queue.push(entry.item, entry.item, 0);
  }
  assert.deepEqual(served, { high: 800, medium: 400, low: 100 });
});

Deno.test("with only high and low backlogged, low gets 1/9 of the turns", () => {
  const queue = new FairQueue<PriorityClass>(WEIGHTS);
  for (let i = 0; i < 5; i++) queue.push("high", "high", 0);
  for (let i = 0; i < 5; i++) queue.push("low", "low", 0);
  let low = 0;
  for (let i = 0; i < 900; i++) {
    const entry = queue.shift()!;
    if (entry.item === "low") low++;
    queue.push(entry.item, entry.item, 0);
  }
  assert.equal(low, 100);
});

Deno.test("a class that was idle does not bank turns: it rejoins at the current virtual time", () => {
  const queue = new FairQueue<PriorityClass>(WEIGHTS);
  queue.push("low", "low", 0);
  for (let i = 0; i < 50; i++) queue.push("high", "high", 0);
  for (let i = 0; i < 50; i++) queue.shift();
  // Medium was idle all along; it comes back and must share by weight, not take 50 turns in a row.
  for (let i = 0; i < 20; i++) queue.push("medium", "medium", 0);
  for (let i = 0; i < 20; i++) queue.push("high", "high", 0);
  const firstTwelve = Array.from({ length: 12 }, () => queue.shift()!.item);
  const high = firstTwelve.filter((c) => c === "high").length;
  const medium = firstTwelve.filter((c) => c === "medium").length;
  assert.ok(high >= 7 && medium >= 3, `got ${firstTwelve.join(",")}`);
});

Deno.test("remove() takes any entry out in place and the rest keep their order", () => {
  const queue = new FairQueue<number>(WEIGHTS);
  const entries = [5, 3, 9, 1, 7].map((rank) => queue.push(rank, "medium", rank));
  assert.equal(queue.remove(entries[1]!), true);
  assert.equal(queue.remove(entries[1]!), false);
  assert.equal(queue.remove(entries[3]!), true);
  assert.equal(queue.size, 3);
  const order = [];
  for (let e = queue.shift(); e; e = queue.shift()) order.push(e.item);
  assert.deepEqual(order, [5, 7, 9]);
});

Deno.test("servedBefore() scales the entries ahead in a class by the class's share of the backlog", () => {
  const queue = new FairQueue<number>(WEIGHTS);
  for (let i = 0; i < 100; i++) queue.push(i, "high", 0);
  for (let i = 0; i < 100; i++) queue.push(i, "low", 0);
  // Low has 1/9 of the turns: the 10th low entry waits for about 90 turns.
  assert.equal(queue.servedBefore("low", 9), 89);
  // High has 8/9: its 9th entry waits for about 10.
  assert.equal(Math.round(queue.servedBefore("high", 8)), 9);
  // Nobody waits for more turns than there are entries.
  assert.equal(queue.servedBefore("low", 99), 200);
});

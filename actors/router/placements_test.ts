import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { withKvPath } from "../runtime/testdata/temp_kv.ts";
import { PlacementShare } from "./placements.ts";
import type { RequestFeatures } from "./strategies/mod.ts";

/** What one process's routers were told: placements with their pending characters, and ends. */
type Told = ["absorb", string, string, number[], number] | ["prefilled", string, string, number];

const BLOCK = 100;

/** One gateway process's share: its own KV handle and what its routers were told. */
async function share(
  path: string,
  node: string,
  now: () => number = Date.now,
  othersPresent: () => boolean = () => true,
) {
  const kv = await Deno.openKv(path);
  const told: Told[] = [];
  // An interval longer than any test: each test syncs when it means to.
  const placements = new PlacementShare(kv, {
    absorb: (model, id, hashes, pending) => told.push(["absorb", model, id, [...hashes], pending]),
    absorbedPrefilled: (model, id, pending) => told.push(["prefilled", model, id, pending]),
  }, { nodeId: node, blockChars: BLOCK, intervalMs: 600_000, now, othersPresent });
  let closed = false;
  return {
    placements,
    told,
    async close() {
      if (closed) return;
      closed = true;
      await placements.close();
      kv.close();
    },
  };
}

/**
 * Runs `fn` with two processes' shares ("a" and "b") on one KV file, closed after it, on the
 * clock `now`, each seeing others present as its `others` says.
 */
async function withTwo(
  fn: (a: Share, b: Share, path: string) => Promise<void>,
  options: { now?: () => number; others?: [() => boolean, () => boolean] } = {},
): Promise<void> {
  const now = options.now ?? Date.now;
  const [aOthers, bOthers] = options.others ?? [() => true, () => true];
  await withKvPath("turnpike-placements-", async (path) => {
    const a = await share(path, "a", now, aOthers);
    const b = await share(path, "b", now, bOthers);
    try {
      await fn(a, b, path);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
}

type Share = Awaited<ReturnType<typeof share>>;

/** A request of `hashes` blocks, `cached` of them predicted on the chosen replica. */
function request(hashes: number[], cached = 0): RequestFeatures {
  return {
    model: "m",
    sessionId: undefined,
    prefixHashes: hashes,
    promptChars: hashes.length * BLOCK,
    predictedPrefixBlocks: cached,
  };
}

Deno.test("placements noted by one process reach the others' routers once, and never its own", async () => {
  await withKvPath("turnpike-placements-", async (path) => {
    const a = await share(path, "a");
    const b = await share(path, "b");
    const c = await share(path, "c");
    try {
      a.placements.note("m", "replica-1", request([11, 12, 13], 1));
      a.placements.note("other", "replica-2", request([21], 1));
      b.placements.note("m", "replica-3", request([31, 32]));
      await a.placements.sync();
      await b.placements.sync();
      await c.placements.sync();
      // Uncached: 2 of 3 blocks, none of 1 (fully predicted), both of 2.
      assertEquals(b.told, [
        ["absorb", "m", "replica-1", [11, 12, 13], 200],
        ["absorb", "other", "replica-2", [21], 0],
      ]);
      assertEquals(c.told.length, 3);
      assertEquals(c.told[2], ["absorb", "m", "replica-3", [31, 32], 200]);
      await a.placements.sync();
      assertEquals(a.told, [["absorb", "m", "replica-3", [31, 32], 200]]);
      // Read again: nothing is taken twice.
      await Promise.all([a.placements.sync(), b.placements.sync(), c.placements.sync()]);
      assertEquals([a.told.length, b.told.length, c.told.length], [1, 2, 3]);
      assertEquals([c.placements.absorbed, c.placements.foreignPrefills], [3, 2]);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });
});

Deno.test("the end of a shared prefill reaches the others once, also when read with its placement; a retry ends the earlier one", async () => {
  await withTwo(async (a, b) => {
    const first = request([1, 2]);
    a.placements.note("m", "replica-1", first);
    await a.placements.sync();
    await b.placements.sync();
    assertEquals(b.placements.foreignPrefills, 1);
    // Its first token, then its end: one end shared.
    a.placements.prefilled(first);
    a.placements.prefilled(first);
    await a.placements.sync();
    await b.placements.sync();
    assertEquals(b.told.slice(1), [["prefilled", "m", "replica-1", 200]]);
    assertEquals(b.placements.foreignPrefills, 0);
    // A retried request: placed twice, its first placement ends with the second; both ends and
    // placements land in one value.
    const retried = request([5, 6, 7]);
    a.placements.note("m", "replica-1", retried);
    a.placements.note("m", "replica-2", retried);
    a.placements.prefilled(retried);
    await a.placements.sync();
    await b.placements.sync();
    assertEquals(b.told.slice(2), [
      ["absorb", "m", "replica-1", [5, 6, 7], 300],
      ["absorb", "m", "replica-2", [5, 6, 7], 300],
      ["prefilled", "m", "replica-1", 300],
      ["prefilled", "m", "replica-2", 300],
    ]);
    assertEquals(b.placements.foreignPrefills, 0);
  });
});

Deno.test("a prefill whose end never comes (its gateway was killed) stops counting after two minutes", async () => {
  let clock = Date.now();
  await withTwo(async (a, b) => {
    a.placements.note("m", "replica-1", request([1, 2, 3]));
    await a.placements.sync();
    await b.placements.sync();
    assertEquals(b.placements.foreignPrefills, 1);
    clock += 60_000;
    await b.placements.sync();
    assertEquals(b.placements.foreignPrefills, 1);
    clock += 61_000;
    await b.placements.sync();
    assertEquals(b.told.at(-1), ["prefilled", "m", "replica-1", 300]);
    assertEquals(b.placements.foreignPrefills, 0);
  }, { now: () => clock });
});

Deno.test("a long prompt's placements split over several KV values and arrive whole; close writes the rest", async () => {
  await withTwo(async (a, b, path) => {
    // 3 x 3,000 blocks: about 27 KB each, so one a value (filled to 48 KB).
    const prompts = [0, 1, 2].map((p) => Array.from({ length: 3_000 }, (_, i) => p * 10_000 + i));
    prompts.forEach((hashes, i) => a.placements.note("m", `replica-${i}`, request(hashes, 3_000)));
    await a.placements.sync();
    const kv = await Deno.openKv(path);
    try {
      let values = 0;
      for await (const _ of kv.list({ prefix: ["placement"] })) values++;
      assertEquals(values, 3);
    } finally {
      kv.close();
    }
    await b.placements.sync();
    assertEquals(b.told, prompts.map((hashes, i) => ["absorb", "m", `replica-${i}`, hashes, 0]));
    a.placements.note("m", "replica-9", request([7]));
    await a.close();
    await b.placements.sync();
    assertEquals(b.told.at(-1), ["absorb", "m", "replica-9", [7], 100]);
  });
});

Deno.test("a process alone on the store writes and reads nothing, lets go of what it noted and of the others' prefill", async () => {
  let others = false;
  let bSeesOthers = true;
  await withTwo(async (a, b) => {
    a.placements.note("m", "replica-1", request([1, 2]));
    await a.placements.sync();
    b.placements.note("m", "replica-2", request([3]));
    await b.placements.sync();
    await a.placements.sync();
    assertEquals(a.told, []);
    others = true;
    a.placements.note("m", "replica-1", request([4]));
    await a.placements.sync();
    await b.placements.sync();
    assertEquals(b.told, [["absorb", "m", "replica-1", [4], 100]]);
    // a's heartbeat lapses before its prefill's end came: b stops counting it.
    bSeesOthers = false;
    await b.placements.sync();
    assertEquals(b.told.at(-1), ["prefilled", "m", "replica-1", 100]);
    assertEquals(b.placements.foreignPrefills, 0);
  }, { others: [() => others, () => bSeesOthers] });
});

Deno.test("thousands of short placements and their ends in one interval fit KV's values and all arrive", async () => {
  await withTwo(async (a, b) => {
    const requests = Array.from({ length: 5_000 }, (_, i) => request([i]));
    for (const r of requests) a.placements.note("m", "replica-with-a-long-name-0", r);
    for (const r of requests) a.placements.prefilled(r);
    await a.placements.sync();
    await b.placements.sync();
    assertEquals(b.told.filter((t) => t[0] === "absorb").length, 5_000);
    assertEquals(b.told.filter((t) => t[0] === "prefilled").length, 5_000);
    assertEquals(b.placements.foreignPrefills, 0);
  });
});

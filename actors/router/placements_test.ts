import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { withKvPath } from "../runtime/testdata/temp_kv.ts";
import { PlacementShare } from "./placements.ts";

type Absorbed = [string, string, number[]];

/** One gateway process's share: its own KV handle and what its routers were told. */
async function share(path: string, node: string) {
  const kv = await Deno.openKv(path);
  const absorbed: Absorbed[] = [];
  // An interval longer than any test: each test syncs when it means to.
  const placements = new PlacementShare(
    kv,
    (model, id, hashes) => absorbed.push([model, id, [...hashes]]),
    { nodeId: node, intervalMs: 600_000 },
  );
  let closed = false;
  return {
    placements,
    absorbed,
    async close() {
      if (closed) return;
      closed = true;
      await placements.close();
      kv.close();
    },
  };
}

Deno.test("placements noted by one process reach the others' routers once, and never its own", async () => {
  await withKvPath("turnpike-placements-", async (path) => {
    const a = await share(path, "a");
    const b = await share(path, "b");
    const c = await share(path, "c");
    try {
      a.placements.note("m", "replica-1", [11, 12, 13]);
      a.placements.note("other", "replica-2", [21]);
      b.placements.note("m", "replica-3", [31, 32]);
      await a.placements.sync();
      await b.placements.sync();
      await c.placements.sync();
      // b read a's before writing nothing new; a has not read b's yet.
      assertEquals(b.absorbed, [["m", "replica-1", [11, 12, 13]], ["other", "replica-2", [21]]]);
      assertEquals(c.absorbed, [
        ["m", "replica-1", [11, 12, 13]],
        ["other", "replica-2", [21]],
        ["m", "replica-3", [31, 32]],
      ]);
      await a.placements.sync();
      assertEquals(a.absorbed, [["m", "replica-3", [31, 32]]]);
      // Read again: nothing is absorbed twice.
      await Promise.all([a.placements.sync(), b.placements.sync(), c.placements.sync()]);
      assertEquals([a.absorbed.length, b.absorbed.length, c.absorbed.length], [1, 2, 3]);
      assertEquals(c.placements.absorbed, 3);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });
});

Deno.test("a long prompt's placements split over several KV values and arrive whole; close writes the rest", async () => {
  await withKvPath("turnpike-placements-", async (path) => {
    const a = await share(path, "a");
    const b = await share(path, "b");
    try {
      // 3 x 3,000 blocks: past the 4,000 one value carries, so three values.
      const prompts = [0, 1, 2].map((p) => Array.from({ length: 3_000 }, (_, i) => p * 10_000 + i));
      prompts.forEach((hashes, i) => a.placements.note("m", `replica-${i}`, hashes));
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
      assertEquals(b.absorbed, prompts.map((hashes, i) => ["m", `replica-${i}`, hashes]));
      a.placements.note("m", "replica-9", [7]);
      await a.close();
      await b.placements.sync();
      assertEquals(b.absorbed.at(-1), ["m", "replica-9", [7]]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

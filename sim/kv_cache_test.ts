import { assertEquals } from "./_assert.ts";
import { BLOCK_TOKENS, KvCache } from "./kv_cache.ts";

Deno.test("allocate() reuses cached leading blocks and counts only the new ones", () => {
  const kv = new KvCache(8 * BLOCK_TOKENS);
  const first = kv.allocate([1, 2, 3], 3 * BLOCK_TOKENS + 10, 3)!;
  assertEquals(first.hitBlocks, 0);
  for (let i = 0; i < 3; i++) kv.publish(first.hold, i, i + 1);
  kv.release(first.hold);
  assertEquals(kv.usedBlocks, 0);
  assertEquals(kv.cachedBlocks, 3);
  const second = kv.allocate([1, 2, 9], 3 * BLOCK_TOKENS + 10, 3)!;
  assertEquals(second.hitBlocks, 2);
  assertEquals(second.hold.owned, 2);
  assertEquals(kv.usedBlocks, 4);
});

Deno.test("allocate() refuses, changing nothing, when free and idle blocks cannot fit the prompt", () => {
  const kv = new KvCache(4 * BLOCK_TOKENS);
  const a = kv.allocate([], 3 * BLOCK_TOKENS, 0)!;
  assertEquals(kv.allocate([], 2 * BLOCK_TOKENS, 0), undefined);
  assertEquals(kv.usedBlocks, 3);
  kv.release(a.hold);
  assertEquals(kv.availableBlocks, 4);
});

Deno.test("publish() shares a block another sequence already cached", () => {
  const kv = new KvCache(8 * BLOCK_TOKENS);
  const a = kv.allocate([7], BLOCK_TOKENS, 0)!;
  const b = kv.allocate([7], BLOCK_TOKENS, 0)!;
  kv.publish(a.hold, 0, 7);
  kv.publish(b.hold, 0, 7);
  assertEquals(kv.usedBlocks, 1);
  kv.release(a.hold);
  assertEquals(kv.usedBlocks, 1);
  kv.release(b.hold);
  assertEquals(kv.usedBlocks, 0);
  assertEquals(kv.cachedBlocks, 1);
});

Deno.test("usage counts only blocks held by sequences, not idle cached ones", () => {
  const kv = new KvCache(10 * BLOCK_TOKENS);
  const a = kv.allocate([1, 2], 2 * BLOCK_TOKENS, 0)!;
  assertEquals(kv.usage, 0.2);
  kv.publish(a.hold, 0, 1);
  kv.publish(a.hold, 1, 2);
  kv.release(a.hold);
  assertEquals(kv.usage, 0);
  assertEquals(kv.cachedPrefixBlocks([1, 2, 3]), 2);
});

/** Computes a prompt of `hashes` on `kv` and releases it, so its blocks are cached. */
function compute(kv: KvCache, hashes: number[]): void {
  const got = kv.allocate(hashes, hashes.length * BLOCK_TOKENS, 0)!;
  hashes.forEach((hash, i) => kv.publish(got.hold, i, hash));
  kv.release(got.hold);
}

Deno.test("publish() copies every computed block to the host tier (write-through)", () => {
  const kv = new KvCache(8 * BLOCK_TOKENS, { hostTokens: 16 * BLOCK_TOKENS });
  compute(kv, [1, 2, 3]);
  assertEquals(kv.host!.capacityBlocks, 16);
  assertEquals(kv.host!.size, 3);
  assertEquals([1, 2, 3].map((h) => kv.host!.has(h)), [true, true, true]);
});

Deno.test("the host tier drops its least recently used block beyond its capacity", () => {
  const kv = new KvCache(8 * BLOCK_TOKENS, { hostTokens: 4 * BLOCK_TOKENS });
  compute(kv, [1, 2]);
  compute(kv, [10, 11]);
  // A GPU hit on block 1 refreshes it in the host tier: block 2 is the oldest now.
  kv.release(kv.allocate([1], 2 * BLOCK_TOKENS, 1)!.hold);
  compute(kv, [20]);
  assertEquals(kv.host!.size, 4);
  assertEquals(kv.host!.evictions, 1);
  assertEquals([1, 2, 10, 11, 20].map((h) => kv.host!.has(h)), [true, false, true, true, true]);
});

Deno.test("allocate() continues the GPU hits with the blocks the host tier holds, as external hits", () => {
  const kv = new KvCache(6 * BLOCK_TOKENS, { hostTokens: 64 * BLOCK_TOKENS });
  compute(kv, [1, 2, 3, 4]);
  // Six blocks of other prompts evict all four from the GPU, oldest (the tail) first.
  compute(kv, [50, 51, 52]);
  compute(kv, [60, 61, 62]);
  assertEquals(kv.cachedPrefixBlocks([1, 2, 3, 4]), 0);
  compute(kv, [1]);
  assertEquals(kv.reusablePrefixBlocks([1, 2, 3, 4, 9]), 4);
  const got = kv.allocate([1, 2, 3, 4, 9], 5 * BLOCK_TOKENS + 10, 5)!;
  assertEquals(got.hitBlocks, 1);
  assertEquals(got.externalBlocks, 3);
  // External hits take GPU blocks like computed ones: 6 blocks in all, 5 of them owned.
  assertEquals(got.hold.cached, [1]);
  assertEquals(got.hold.owned, 5);
  assertEquals(kv.usedBlocks, 6);
});

Deno.test("allocate() counts at most maxHitBlocks hits of both kinds together", () => {
  const kv = new KvCache(4 * BLOCK_TOKENS, { hostTokens: 64 * BLOCK_TOKENS });
  compute(kv, [1, 2, 3, 4]);
  compute(kv, [7, 8, 9, 10]);
  const got = kv.allocate([1, 2, 3, 4], 4 * BLOCK_TOKENS, 3)!;
  assertEquals([got.hitBlocks, got.externalBlocks], [0, 3]);
});

Deno.test("allocate() with external hits refuses, changing nothing, when the GPU pool cannot fit them", () => {
  const kv = new KvCache(4 * BLOCK_TOKENS, { hostTokens: 64 * BLOCK_TOKENS });
  compute(kv, [1, 2, 3]);
  const busy = kv.allocate([], 2 * BLOCK_TOKENS, 0)!;
  const evictions = kv.stats.evictions;
  assertEquals(kv.allocate([1, 2, 3], 3 * BLOCK_TOKENS + 1, 3), undefined);
  assertEquals(kv.stats.evictions, evictions);
  assertEquals(kv.usedBlocks, 2);
  kv.release(busy.hold);
});

Deno.test("recordQuery() counts external queries like local ones only when there is a host tier", () => {
  const tiered = new KvCache(4 * BLOCK_TOKENS, { hostTokens: BLOCK_TOKENS });
  tiered.recordQuery(2000, 512, 1024);
  assertEquals(tiered.stats, {
    queries: 2000,
    hits: 512,
    evictions: 0,
    externalQueries: 2000,
    externalHits: 1024,
  });
  const plain = new KvCache(4 * BLOCK_TOKENS, { hostTokens: BLOCK_TOKENS - 1 });
  plain.recordQuery(2000, 512);
  assertEquals(plain.host, undefined);
  assertEquals([plain.stats.externalQueries, plain.stats.externalHits], [0, 0]);
});

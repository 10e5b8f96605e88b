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

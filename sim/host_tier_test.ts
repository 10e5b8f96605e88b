import { assertEquals } from "./_assert.ts";
import { HostKvTier, kvTokensInGib } from "./host_tier.ts";

Deno.test("kvTokensInGib() counts 8192 tokens a GiB at 131,072 bytes of KV a token", () => {
  assertEquals(kvTokensInGib(1), 8192);
  assertEquals(kvTokensInGib(0.5), 4096);
  assertEquals(kvTokensInGib(0), 0);
});

Deno.test("store() keeps the most recently stored blocks up to the capacity", () => {
  const tier = new HostKvTier(2);
  tier.store(1);
  tier.store(2);
  tier.store(1);
  tier.store(3);
  assertEquals([tier.has(1), tier.has(2), tier.has(3)], [true, false, true]);
  assertEquals(tier.evictions, 1);
});

Deno.test("touch() refreshes held blocks with a prompt's head most recent and skips the others", () => {
  const tier = new HostKvTier(3);
  for (const hash of [1, 2, 3]) tier.store(hash);
  tier.touch([2, 3, 99]);
  assertEquals(tier.size, 3);
  tier.store(4);
  tier.store(5);
  // 1 went first, then 3 (touched before 2): 2, the head of the touched prompt, stays.
  assertEquals([1, 2, 3, 4, 5].map((h) => tier.has(h)), [false, true, false, true, true]);
});

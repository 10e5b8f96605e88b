import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import fc from "fast-check";
import { LRU_KEYS_MAX, LruKeys } from "./_lru_keys.ts";

/** The keys of `set` oldest first, with their stamps, emptying it. */
function drain(set: LruKeys): [number, number][] {
  const out: [number, number][] = [];
  while (set.size > 0) {
    const stamp = set.oldestStamp!;
    out.push([set.shift()!, stamp]);
  }
  return out;
}

Deno.test("LruKeys keeps keys in the order they were last added, with their stamps", () => {
  const set = new LruKeys(4);
  set.add(5, 1);
  set.add(9, 2);
  set.add(5, 3);
  set.add(7, 4);
  assertEquals(set.size, 3);
  assertEquals(set.stamp(5), 3);
  assertEquals(set.stamp(6), undefined);
  assertEquals(drain(set), [[9, 2], [5, 3], [7, 4]]);
  assertEquals(set.shift(), undefined);
  assertEquals(set.oldestStamp, undefined);
});

Deno.test("LruKeys finds every key after deletes shifted the probe runs back, and grows past its expected size", () => {
  // Keys that share home slots in a small table: long probe runs that wrap around.
  const set = new LruKeys(2);
  const keys = Array.from({ length: 40 }, (_, i) => i * 8);
  keys.forEach((k, i) => set.add(k, i));
  for (const k of keys) if (k % 3 === 0) assertEquals(set.delete(k), true);
  assertEquals(set.delete(3), false);
  for (const k of keys) assertEquals(set.has(k), k % 3 !== 0);
  assertEquals(drain(set).map(([k]) => k), keys.filter((k) => k % 3 !== 0));
});

/** Runs `ops` on an LruKeys and on an insertion-ordered Map, checking they agree throughout. */
function agrees(ops: readonly Op[]): void {
  const set = new LruKeys(4);
  const model = new Map<number, number>();
  let stamp = 0;
  for (const o of ops) {
    if (o.kind === "add") {
      model.delete(o.key);
      model.set(o.key, ++stamp);
      set.add(o.key, stamp);
    } else if (o.kind === "delete") {
      assertEquals(set.delete(o.key), model.delete(o.key));
    } else {
      const oldest = model.keys().next().value;
      if (oldest !== undefined) model.delete(oldest);
      assertEquals(set.shift(), oldest);
    }
    assertEquals(set.size, model.size);
    for (const k of model.keys()) assertEquals(set.stamp(k), model.get(k));
  }
  assertEquals(drain(set), [...model]);
}

type Op = { kind: "add" | "delete"; key: number } | { kind: "shift" };

function ops(maxKey: number) {
  const key = fc.integer({ min: 0, max: maxKey });
  return fc.array(
    fc.oneof(
      fc.record({ kind: fc.constant("add" as const), key }),
      fc.record({ kind: fc.constant("delete" as const), key }),
      fc.record({ kind: fc.constant("shift" as const) }),
    ),
    { maxLength: 300 },
  );
}

Deno.test("LruKeys agrees with an insertion-ordered Map under any sequence of adds, deletes and shifts", () => {
  // Few distinct keys keep the table small, so probe runs collide and wrap around its end.
  fc.assert(fc.property(ops(12), agrees), { numRuns: 500 });
  fc.assert(fc.property(ops(2_000), agrees));
});

Deno.test("LruKeys tells what to change once it would hold more keys than its slots can number", () => {
  const set = new LruKeys(LRU_KEYS_MAX);
  for (let k = 0; k < LRU_KEYS_MAX; k++) set.add(k, k);
  assertEquals(set.size, LRU_KEYS_MAX);
  assertThrows(() => set.add(LRU_KEYS_MAX, 0), /lower proxy.prefix_cache_tokens/);
});

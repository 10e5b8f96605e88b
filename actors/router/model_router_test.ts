import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { ModelRouter } from "./model_router.ts";
import { RoutingTable } from "./routing_table.ts";
import { createPicker, strategyOptions } from "./strategies/mod.ts";
import type { Picker } from "./strategies/mod.ts";
import { link, member, report, REQUEST } from "./_testing.ts";

const proxy = { load_bound: 1.5, prefix_block_chars: 2048, prefix_cache_tokens: 430_000 };

function router(strategy: "round_robin" | "least_connections", spy?: (id: string) => void) {
  const picker: Picker = createPicker(strategy, strategyOptions(proxy));
  const forget = picker.forget.bind(picker);
  return new ModelRouter("m", {
    pick: picker.pick.bind(picker),
    forget: (id) => {
      spy?.(id);
      forget(id);
    },
  });
}

function table(...backends: [string, boolean][]): RoutingTable {
  let t = RoutingTable.EMPTY;
  for (const [id, eligible] of backends) t = t.put(member(id), report(id, eligible), link());
  return t;
}

Deno.test("pick() takes only eligible backends and skips excluded ones", () => {
  const r = router("round_robin");
  r.publish(table(["a", true], ["b", false], ["c", true]));
  assertEquals(r.eligibleCount, 2);
  const picks = new Set([0, 1, 2, 3].map(() => r.pick(REQUEST)?.id));
  assertEquals([...picks].sort(), ["a", "c"]);
  assertEquals(r.pick(REQUEST, new Set(["a"]))?.id, "c");
  assertEquals(r.pick(REQUEST, new Set(["a", "c"])), undefined);
});

Deno.test("acquire() and release() move the in-flight count the strategies see", () => {
  const r = router("least_connections");
  r.publish(table(["a", true], ["b", true]));
  const first = r.pick(REQUEST);
  if (!first) throw new Error("expected a backend");
  r.acquire(first);
  const second = r.pick(REQUEST);
  assertEquals(second !== undefined && second.id !== first.id, true);
  r.release(first);
  assertEquals(first.inFlight, 0);
});

Deno.test("a request acquired on one table is released on the count the next table shows", () => {
  const r = router("least_connections");
  const shared = link();
  r.publish(RoutingTable.EMPTY.put(member("a"), report("a", true), shared));
  const before = r.pick(REQUEST);
  if (!before) throw new Error("expected a backend");
  r.acquire(before);
  r.publish(r.table.put(member("a"), { ...report("a", true), ewmaLatencyMs: 5 }, shared));
  const after = r.get("a")?.view;
  assertEquals([after !== before, after?.inFlight, after?.ewmaTtftMs], [true, 1, 5]);
  r.release(before);
  assertEquals([after?.inFlight, before.inFlight], [0, 0]);
});

Deno.test("the strategies forget a backend once a published table drops it or moves it to another URL", () => {
  const forgotten: string[] = [];
  const r = router("round_robin", (id) => forgotten.push(id));
  r.publish(table(["a", true], ["b", true], ["c", true]));
  r.pick(REQUEST);
  const t = r.table.without("b").put(
    member("c", "http://127.0.0.1/new"),
    report("c", true),
    link(),
  );
  r.publish(t.put(member("a"), report("a", false), r.get("a")!.view.link));
  assertEquals(forgotten, []);
  assertEquals(r.pick(REQUEST)?.id, "c");
  assertEquals(forgotten, ["b", "c"]);
});

Deno.test("pick() offers only backends its limits give room, and release() tells the limits", () => {
  const r = router("round_robin");
  r.publish(table(["a", true], ["b", true]));
  const released: string[] = [];
  r.limit({
    hasRoom: (view) => view.inFlight < 1,
    released: (view) => void released.push(view.id),
  });
  const first = r.pick(REQUEST)!;
  r.acquire(first);
  const second = r.pick(REQUEST)!;
  r.acquire(second);
  assertEquals([first.id, second.id].sort(), ["a", "b"]);
  assertEquals(r.pick(REQUEST), undefined);
  r.release(first);
  assertEquals(released, [first.id]);
  assertEquals(r.pick(REQUEST)?.id, first.id);
  r.limit(undefined);
  assertEquals(r.pick(REQUEST) !== undefined, true);
});

Deno.test("pick() tells the placements where a prompt with prefix blocks went, and release() when its prefill ended; absorb() reaches the strategies", () => {
  const placed: [string, number[]][] = [];
  const ended: number[][] = [];
  const r = new ModelRouter("m", createPicker("prefix_aware", strategyOptions(proxy)), {
    placements: {
      placed: (id, request) => placed.push([id, [...request.prefixHashes]]),
      prefilled: (request) => ended.push([...request.prefixHashes]),
    },
  });
  r.publish(table(["a", true], ["b", true], ["c", true]));
  const long = { ...REQUEST, prefixHashes: [5, 6], promptChars: 4096 };
  const first = r.pick(long);
  r.pick({ ...REQUEST, prefixHashes: [], promptChars: 10 });
  assertEquals(placed, [[first!.id, [5, 6]]]);
  r.acquire(first!);
  r.release(first!, undefined, long);
  assertEquals(ended, [[5, 6]]);
  // Another gateway sent [1, 2, 3] to b (where a tie would not have gone: c is next in turn).
  r.absorb("b", [1, 2, 3], 0);
  assertEquals(r.pick({ ...REQUEST, prefixHashes: [1, 2, 3, 4], promptChars: 8192 })?.id, "b");
});

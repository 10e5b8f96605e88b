import { deepStrictEqual as assertEquals } from "node:assert/strict";
import type { BackendMessage } from "../backend/mod.ts";
import { linkOf, RoutingTable } from "./routing_table.ts";
import { link, member, report } from "./_testing.ts";

Deno.test("put() and without() return new tables and leave the old one as it was", () => {
  const one = RoutingTable.EMPTY.put(member("b"), report("b", true), link());
  const two = one.put(member("a"), report("a", true), link());
  const three = two.put(member("c"), report("c", false), link()).without("b");
  assertEquals([one.size, two.size, three.size], [1, 2, 2]);
  assertEquals(two.eligible.map((v) => v.id), ["a", "b"]);
  assertEquals(three.eligible.map((v) => v.id), ["a"]);
  assertEquals(three.list().map((b) => b.member.id), ["a", "c"]);
  assertEquals(two.get("a")?.view, three.get("a")?.view);
  assertEquals(three.without("zz"), three);
});

Deno.test("a backend that has not reported yet is listed but not eligible", () => {
  const t = RoutingTable.EMPTY.put(member("a"), undefined, link());
  assertEquals([t.size, t.eligible.length, t.get("a")?.view.inFlight], [1, 0, 0]);
});

Deno.test("the views compare streamed TTFTs when any backend has one, else whole-answer latencies", () => {
  const t = RoutingTable.EMPTY
    .put(member("a"), { ...report("a", true), ewmaLatencyMs: 900 }, link())
    .put(member("b"), { ...report("b", true), ewmaLatencyMs: 100 }, link());
  const times = (table: RoutingTable) => table.list().map((b) => [b.view.id, b.view.ewmaTtftMs]);
  assertEquals([t.streamed, times(t)], [false, [["a", 900], ["b", 100]]]);
  const streamed = t.put(member("b"), {
    ...report("b", true),
    ewmaLatencyMs: 100,
    ewmaTtftMs: 20,
  }, t.get("b")!.view.link);
  assertEquals([streamed.streamed, times(streamed)], [true, [["a", undefined], ["b", 20]]]);
});

Deno.test("linkOf() finds the actor behind a table's view and nothing behind a plain one", () => {
  const told: BackendMessage[] = [];
  const view = RoutingTable.EMPTY.put(member("a"), report("a", true), link(told)).eligible[0]!;
  linkOf(view)?.actor.tell({ type: "acquired" });
  assertEquals(told, [{ type: "acquired" }]);
  assertEquals(
    linkOf({ id: "x", url: "u", inFlight: 0, ewmaTtftMs: undefined, load: undefined }),
    undefined,
  );
});

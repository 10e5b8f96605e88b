import assert from "node:assert/strict";
import type { ChatMessage } from "../messages.ts";
import { item } from "./_testing.ts";
import { firstProtectedTurn, groupTurns, groupUnits, keepNewest } from "./units.ts";

const call = (id: string) => ({
  id,
  type: "function" as const,
  function: { name: "run", arguments: "{}" },
});
const user = (text: string): ChatMessage => ({ role: "user", content: text });
const result = (id: string): ChatMessage => ({ role: "tool", tool_call_id: id, content: "done" });

/** Turn 1 asks and calls two tools; their results open turn 2, which replies; turn 3 asks. */
const context = [
  item(user("go"), 1, 0),
  item({ role: "assistant", content: null, tool_calls: [call("a"), call("b")] }, 1, 1),
  item(result("a"), 2, 0),
  item(result("b"), 2, 1),
  item({ role: "assistant", content: "done" }, 2, 2),
  item(user("next"), 3, 0),
  item({ role: "assistant", content: "ok" }, 3, 1),
];

Deno.test("groupUnits() keeps a tool call with all its results, across turns", () => {
  const units = groupUnits(context);
  assert.deepEqual(units.map((u) => u.messages.length), [1, 3, 1, 1, 1]);
  assert.deepEqual([units[1]!.from, units[1]!.to], [1, 2]);
});

Deno.test("groupTurns() joins the turns a tool call spans", () => {
  const groups = groupTurns(groupUnits(context));
  assert.deepEqual(groups.map((g) => [g.from, g.to]), [[1, 2], [3, 3]]);
});

Deno.test("firstProtectedTurn() keeps at least the newest turn", () => {
  assert.equal(firstProtectedTurn(context, 2), 2);
  assert.equal(firstProtectedTurn(context, 0), 3);
  assert.equal(firstProtectedTurn(context, 9), 1);
  assert.equal(firstProtectedTurn([], 2), Infinity);
});

Deno.test("keepNewest() keeps protected groups even past the room", () => {
  const groups = groupTurns(groupUnits(context));
  assert.equal(keepNewest(groups, 0, 3).kept.length, 1);
  assert.equal(keepNewest(groups, 1e6, 3).kept.length, 2);
  assert.equal(keepNewest(groups, 0, 2).kept.length, 2);
});

Deno.test("groupTurns() parts an agent loop into steps: each turn that calls tools starts one", () => {
  const calls = (turn: number) => ({
    role: "assistant" as const,
    content: null,
    tool_calls: [call(`c${turn}`)],
  });
  const loop = [
    item(user("go"), 1, 0),
    item(calls(1), 1, 1),
    item(result("c1"), 2, 0),
    item(calls(2), 2, 1),
    item(result("c2"), 3, 0),
    item(calls(3), 3, 1),
    item(result("c3"), 4, 0),
    item({ role: "assistant", content: "fixed" }, 4, 1),
  ];
  const groups = groupTurns(groupUnits(loop));
  assert.deepEqual(groups.map((g) => [g.from, g.to]), [[1, 2], [2, 3], [3, 4]]);
  assert.deepEqual(groups.map((g) => g.units.length), [2, 1, 2]);
});

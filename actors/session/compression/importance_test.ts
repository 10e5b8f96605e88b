import assert from "node:assert/strict";
import type { ChatMessage } from "../messages.ts";
import { checkProperties } from "./_properties.ts";
import { filler, item } from "./_testing.ts";
import { importance, unitScore } from "./importance.ts";
import { approxTokenCounter } from "./tokens.ts";
import type { CompressionInput } from "./types.ts";
import { groupUnits, sumTokens } from "./units.ts";

const call = (id: string) => ({
  id,
  type: "function" as const,
  function: { name: "run_tests", arguments: "{}" },
});

/** Turn 1: an instruction, chatter, a passing and a failing tool run; turns 2-3 are newer. */
function input(targetTokens: number): CompressionInput {
  const messages: [ChatMessage, number][] = [
    [{ role: "user", content: "Fix the flaky test in parser_test.ts" }, 1],
    [{ role: "assistant", content: filler(400) }, 1],
    [{ role: "assistant", content: null, tool_calls: [call("ok")] }, 1],
    [{ role: "tool", tool_call_id: "ok", content: filler(300) }, 1],
    [{ role: "assistant", content: null, tool_calls: [call("bad")] }, 1],
    [{ role: "tool", tool_call_id: "bad", content: "Traceback: " + filler(300) }, 1],
    [{ role: "user", content: "Now run it again" }, 2],
    [{ role: "assistant", content: "Running." }, 2],
    [{ role: "user", content: "Done?" }, 3],
  ];
  return {
    system: [item({ role: "system", content: "You fix tests." }, 0, 0)],
    context: messages.map(([m, turn], index) => item(m, turn, index)),
    targetTokens,
    keepRecentTurns: 2,
    countMessage: approxTokenCounter.countMessage,
    summaries: [],
  };
}

Deno.test("importance keeps the budget, tool pairs, the newest turns and its input", async () => {
  await checkProperties(importance);
});

Deno.test("unitScore() ranks instructions and errors over tool runs over chatter", () => {
  const scores = groupUnits(input(0).context).map(unitScore);
  assert.deepEqual(scores, [3, 0, 1, 3, 3, 0, 3]);
});

Deno.test("importance drops chatter and passing tool runs first, keeping the order", async () => {
  const i = input(0);
  const needed = sumTokens(i.system) + sumTokens(i.context) - sumTokens(i.context.slice(1, 4));
  const result = await importance.compress({ ...i, targetTokens: needed });
  assert.deepEqual(result.context, [i.context[0], ...i.context.slice(4)]);
  assert.deepEqual(result.actions, [
    `dropped 2 units of low importance from turn 1 (${sumTokens(i.context.slice(1, 4))} tokens)`,
  ]);
});

Deno.test("importance keeps a failing tool run with its call", async () => {
  const i = input(0);
  const result = await importance.compress({ ...i, targetTokens: sumTokens(i.context) - 150 });
  const kept = result.context.map((m) => m.message);
  assert.ok(kept.some((m) => m.role === "tool" && m.tool_call_id === "bad"));
  assert.ok(kept.some((m) => m.role === "assistant" && m.tool_calls?.[0]?.id === "bad"));
});

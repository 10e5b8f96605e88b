import assert from "node:assert/strict";
import { checkProperties } from "./_properties.ts";
import { filler, item } from "./_testing.ts";
import { slidingWindow } from "./sliding_window.ts";
import { approxTokenCounter } from "./tokens.ts";
import type { CompressionInput } from "./types.ts";
import { sumTokens } from "./units.ts";

const call = { id: "c1", type: "function" as const, function: { name: "run", arguments: "{}" } };

/** Five turns of about 100 tokens; turn 3's tool call is answered at the start of turn 4. */
function input(targetTokens: number): CompressionInput {
  const context = [1, 2, 3, 4, 5].flatMap((turn) => [
    item(
      turn === 4
        ? { role: "tool", tool_call_id: "c1", content: filler(200) }
        : { role: "user", content: filler(200) },
      turn,
      0,
    ),
    item(
      turn === 3
        ? { role: "assistant", content: filler(200), tool_calls: [call] }
        : { role: "assistant", content: filler(200) },
      turn,
      1,
    ),
  ]);
  return {
    system: [item({ role: "system", content: "Be brief." }, 0, 0)],
    context,
    targetTokens,
    keepRecentTurns: 1,
    countMessage: approxTokenCounter.countMessage,
    summaries: [],
  };
}

Deno.test("slidingWindow keeps the budget, tool pairs, the newest turns and its input", async () => {
  await checkProperties(slidingWindow);
});

Deno.test("slidingWindow drops the oldest whole turns until the rest fits", async () => {
  const i = input(460);
  const result = await slidingWindow.compress(i);
  assert.deepEqual(result.context, i.context.slice(4));
  assert.deepEqual(result.actions, [
    `dropped turns 1-2 (${sumTokens(i.context.slice(0, 4))} tokens)`,
  ]);
  assert.equal(result.tokens, 9 + sumTokens(i.context.slice(4)));
});

Deno.test("slidingWindow drops a tool call's turn and its result's turn together", async () => {
  // Turn 4 alone would fit with turn 5, but its tool result answers turn 3's call: both go.
  const i = input(0);
  const result = await slidingWindow.compress({
    ...i,
    targetTokens: 9 + sumTokens(i.context.slice(6)) + 10,
  });
  assert.deepEqual(result.context, i.context.slice(8));
  assert.deepEqual(result.actions, [
    `dropped turns 1-4 (${sumTokens(i.context.slice(0, 8))} tokens)`,
  ]);
});

Deno.test("slidingWindow keeps the protected turns past the target and says so", async () => {
  const result = await slidingWindow.compress(input(10));
  assert.equal(result.context.length, 2);
  assert.match(result.actions.at(-1) ?? "", /over the target of 10/);
});

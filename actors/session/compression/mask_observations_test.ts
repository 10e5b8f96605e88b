import assert from "node:assert/strict";
import { checkProperties } from "./_properties.ts";
import { filler, item } from "./_testing.ts";
import { maskedContent, maskObservations } from "./mask_observations.ts";
import { approxTokenCounter } from "./tokens.ts";
import type { CompressionInput } from "./types.ts";
import { sumTokens } from "./units.ts";

const call = (id: string) => ({
  id,
  type: "function" as const,
  function: { name: "read_file", arguments: `{"path":"${id}.ts"}` },
});

/** Four turns, each reading a big file and answering; the last turn only asks. */
function input(targetTokens: number): CompressionInput {
  const context = [1, 2, 3].flatMap((turn) => [
    item({ role: "user", content: `look at file ${turn}` }, turn, 0),
    item({ role: "assistant", content: null, tool_calls: [call(`c${turn}`)] }, turn, 1),
    item({ role: "tool", tool_call_id: `c${turn}`, content: filler(2000, turn) }, turn, 2),
    item({ role: "assistant", content: "It looks fine." }, turn, 3),
  ]);
  context.push(item({ role: "user", content: "Summarise what you saw" }, 4, 0));
  return {
    system: [item({ role: "system", content: "You read code." }, 0, 0)],
    context,
    targetTokens,
    keepRecentTurns: 1,
    countMessage: approxTokenCounter.countMessage,
    summaries: [],
  };
}

Deno.test("maskObservations keeps the budget, tool pairs, the newest turns and its input", async () => {
  await checkProperties(maskObservations);
});

Deno.test("maskObservations clears the oldest tool outputs first, only as many as needed", async () => {
  const i = input(0);
  const total = sumTokens(i.system) + sumTokens(i.context);
  const result = await maskObservations.compress({ ...i, targetTokens: total - 100 });
  const masked = result.context[2]!;
  assert.equal(masked.message.content, maskedContent("read_file", "c1", i.context[2]!.tokens));
  assert.deepEqual(masked.origin, { kind: "masked", turn: 1, index: 2 });
  assert.equal(masked.message.role === "tool" && masked.message.tool_call_id, "c1");
  assert.deepEqual(result.context.slice(3), i.context.slice(3));
  assert.match(result.actions[0] ?? "", /^masked 1 tool outputs of turn 1 \(saved \d+ tokens\)$/);
});

Deno.test("maskObservations drops the oldest turns when masking is not enough", async () => {
  const i = input(0);
  const result = await maskObservations.compress({ ...i, targetTokens: 120 });
  assert.ok(result.tokens <= 120);
  assert.match(result.actions[0] ?? "", /^masked 3 tool outputs of turns 1-3/);
  assert.match(result.actions[1] ?? "", /^dropped turns 1-/);
});

/** The properties every compression method keeps, checked over random agent histories. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { checkToolPairs } from "../messages.ts";
import { firstProtected, inputSpec, makeInput, protectedTokens } from "./_testing.ts";
import { MIN_SUMMARY_TOKENS } from "./summary.ts";
import { approxTokenCounter } from "./tokens.ts";
import type { CompressionInput, CompressionResult, Compressor } from "./types.ts";
import { sumTokens } from "./units.ts";

const count = approxTokenCounter.countMessage;

/** Asserts what every method promises of `result` for `input`. */
export async function checkResult(
  method: Compressor,
  input: CompressionInput,
  result: CompressionResult,
): Promise<void> {
  const messages = result.context.map((m) => m.message);
  const before = checkToolPairs(input.context.map((m) => m.message));
  const after = checkToolPairs(messages);
  assert.ok(after.ok, `tool pairs broken: ${JSON.stringify(after)}`);
  assert.ok(before.ok);
  assert.deepEqual(after.open, before.open);
  for (const m of result.context) assert.equal(m.tokens, count(m.message));
  assert.equal(result.tokens, sumTokens(input.system) + sumTokens(result.context));

  const first = firstProtected(input);
  const kept = input.context.filter((m) => m.origin.kind !== "summary" && m.origin.turn >= first);
  assert.deepEqual(result.context.slice(result.context.length - kept.length), kept);
  // Past the target only what is protected may be left: the units of the newest turns, and at
  // most the whole turns they reach into, and summaries in their floor's room.
  if (result.tokens > input.targetTokens) {
    const needed = protectedTokens(input);
    const summaries = sumTokens(result.context.filter((m) => m.origin.kind === "summary"));
    assert.ok(result.tokens >= needed.units);
    assert.ok(result.tokens - Math.min(summaries, MIN_SUMMARY_TOKENS) <= needed.turns);
  }

  for (const m of result.context) {
    if (m.origin.kind !== "summary") continue;
    const o = m.origin;
    const segment = result.summaries.find((s) =>
      s.from === o.from && s.to === o.to && s.level === o.level
    );
    assert.ok(segment, `no summary segment for turns ${o.from}-${o.to}`);
    assert.equal(segment.tokens, m.tokens);
  }

  if (sumTokens(input.system) + sumTokens(input.context) <= input.targetTokens) {
    assert.deepEqual(result.context, input.context);
    assert.deepEqual(result.actions, []);
  }
  if (result.tokens <= input.targetTokens) {
    const again = await method.compress({
      ...input,
      context: result.context,
      summaries: result.summaries,
    });
    assert.deepEqual(again.context, result.context);
  }
}

/** Runs the shared properties of `method` over random histories. */
export async function checkProperties(method: Compressor, numRuns = 150): Promise<void> {
  await fc.assert(
    fc.asyncProperty(inputSpec, async (spec) => {
      const input = await makeInput(method, spec);
      const frozen = structuredClone({
        system: input.system,
        context: input.context,
        summaries: input.summaries,
      });
      const result = await method.compress(input);
      assert.deepEqual(
        { system: input.system, context: input.context, summaries: input.summaries },
        frozen,
        "the input was changed",
      );
      assert.deepEqual(await method.compress(input), result, "not deterministic");
      await checkResult(method, input, result);
    }),
    { numRuns },
  );
}

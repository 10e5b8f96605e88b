import assert from "node:assert/strict";
import type { ChatMessage } from "../messages.ts";
import { checkProperties } from "./_properties.ts";
import { fakeSummarizer, filler, plainInput } from "./_testing.ts";
import { CHUNK_TURNS, hierarchical } from "./hierarchical.ts";
import type { Summarizer } from "./types.ts";

Deno.test("hierarchical keeps the budget, tool pairs, the newest turns and its input", async () => {
  await checkProperties(hierarchical);
});

Deno.test("hierarchical summarises older turns in chunks and keeps the newest verbatim", async () => {
  const calls: ChatMessage[][] = [];
  const input = plainInput(12, 1200, { summarize: fakeSummarizer(false, calls) });
  const result = await hierarchical.compress(input);
  const summaries = result.context.filter((m) => m.origin.kind === "summary");
  assert.ok(summaries.length >= 2, result.actions.join("\n"));
  assert.ok(summaries.every((m) => m.origin.kind === "summary" && m.origin.level === 1));
  const first = summaries[0]!.origin;
  assert.deepEqual(first, { kind: "summary", from: 1, to: CHUNK_TURNS, level: 1 });
  assert.deepEqual(result.context.at(-1), input.context.at(-1));
  assert.ok(result.tokens <= 1200);
});

Deno.test("hierarchical summarises summaries when the summaries overflow", async () => {
  const calls: ChatMessage[][] = [];
  const roomy: Summarizer = (messages, { maxTokens }) => {
    calls.push(messages);
    return Promise.resolve(filler(maxTokens * 3));
  };
  const input = plainInput(40, 700, { summarize: roomy, chars: 120 });
  const result = await hierarchical.compress(input);
  const levels = result.context.flatMap((m) => m.origin.kind === "summary" ? [m.origin.level] : []);
  assert.ok(Math.max(...levels) >= 2, result.actions.join("\n"));
  assert.ok(result.tokens <= 700);
  assert.ok(result.actions.some((a) => /as a level-2 summary/.test(a)));
  // A level-2 summary reads the level-1 summaries, not the turns.
  assert.ok(
    calls.some((c) => c.length === 2 && c.every((m) => /^\[Summary of/.test(String(m.content)))),
  );
});

Deno.test("hierarchical falls back to dropping turns without a summarizer", async () => {
  const result = await hierarchical.compress(plainInput(12, 600));
  assert.equal(result.actions[0], "no summarizer is available: fell back to sliding_window");
  assert.ok(result.tokens <= 600);
});

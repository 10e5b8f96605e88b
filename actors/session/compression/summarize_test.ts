import assert from "node:assert/strict";
import type { ChatMessage } from "../messages.ts";
import { checkProperties } from "./_properties.ts";
import { fakeSummarizer, item, plainInput } from "./_testing.ts";
import { summarize } from "./summarize.ts";
import { sumTokens } from "./units.ts";

Deno.test("summarize keeps the budget, tool pairs, the newest turns and its input", async () => {
  await checkProperties(summarize);
});

Deno.test("summarize replaces the oldest turns with one user summary message", async () => {
  const calls: ChatMessage[][] = [];
  const input = plainInput(6, 400, { summarize: fakeSummarizer(false, calls) });
  const result = await summarize.compress(input);
  const [summary, ...rest] = result.context;
  assert.equal(summary?.message.role, "user");
  assert.deepEqual(summary?.origin, { kind: "summary", from: 1, to: 4, level: 1 });
  assert.match(String(summary?.message.content), /^\[Summary of turns 1-4\]\n8 messages/);
  assert.deepEqual(rest, input.context.slice(8));
  assert.deepEqual(calls, [input.context.slice(0, 8).map((m) => m.message)]);
  assert.deepEqual(result.summaries.map((s) => [s.from, s.to, s.level]), [[1, 4, 1]]);
  assert.deepEqual(result.actions, [
    `summarized turns 1-4 as a level-1 summary (${summary?.tokens} tokens)`,
  ]);
  assert.ok(result.tokens <= 400);
});

Deno.test("summarize reuses a summary of the same turns instead of asking again", async () => {
  const calls: ChatMessage[][] = [];
  const input = plainInput(6, 400, { summarize: fakeSummarizer(false, calls) });
  const known = { from: 1, to: 4, level: 1, text: "They planned the fix.", tokens: 0 };
  const result = await summarize.compress({ ...input, summaries: [known] });
  assert.equal(calls.length, 0);
  assert.match(String(result.context[0]?.message.content), /They planned the fix\.$/);
  assert.match(result.actions[0] ?? "", /^reused the summary of turns 1-4/);
});

Deno.test("summarize re-summarises its summary with the next-oldest turns as the context grows", async () => {
  const calls: ChatMessage[][] = [];
  const first = await summarize.compress(
    plainInput(6, 400, { summarize: fakeSummarizer(false, calls) }),
  );
  const later = plainInput(9, 400, { summarize: fakeSummarizer(false, calls) });
  const grown = {
    ...later,
    context: [...first.context, ...later.context.slice(12)],
    summaries: first.summaries,
  };
  const result = await summarize.compress(grown);
  assert.deepEqual(result.context[0]?.origin, { kind: "summary", from: 1, to: 7, level: 1 });
  assert.equal(calls[1]?.[0], first.context[0]?.message);
  assert.deepEqual(result.summaries.map((s) => [s.from, s.to]), [[1, 7]]);
});

Deno.test("summarize cuts a summary the model made too long", async () => {
  const input = plainInput(6, 400, { summarize: fakeSummarizer(true) });
  const result = await summarize.compress(input);
  assert.ok(result.tokens <= 400);
  assert.match(result.actions[0] ?? "", /cut to fit/);
  assert.ok(String(result.context[0]?.message.content).endsWith("…"));
});

Deno.test("summarize falls back to dropping turns without a summarizer, or when it fails", async () => {
  const none = await summarize.compress(plainInput(6, 400));
  assert.equal(none.actions[0], "no summarizer is available: fell back to sliding_window");
  assert.match(none.actions[1] ?? "", /^dropped turns 1-/);
  const failing = plainInput(6, 400, {
    summarize: () => Promise.reject(new Error("upstream 503")),
  });
  const failed = await summarize.compress(failing);
  assert.equal(
    failed.actions[0],
    "the summarizer failed (upstream 503): fell back to sliding_window",
  );
  assert.ok(failed.context.every((m) => m.origin.kind === "original"));
});

Deno.test("summarize leaves a context under its target alone", async () => {
  const input = plainInput(3, 10_000, { summarize: fakeSummarizer() });
  const extra = item({ role: "user", content: "and one more" }, 4, 0);
  const result = await summarize.compress({ ...input, context: [...input.context, extra] });
  assert.equal(result.context.length, 7);
  assert.equal(result.tokens, sumTokens(input.system) + sumTokens(input.context) + extra.tokens);
  assert.deepEqual(result.actions, []);
});

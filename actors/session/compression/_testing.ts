/** Test helpers: random agent histories and inputs, and fake summarizers. */
import fc from "fast-check";
import type { ChatMessage, ToolCall } from "../messages.ts";
import { approxTokenCounter } from "./tokens.ts";
import type { CompressionInput, Compressor, ContextMessage, Summarizer } from "./types.ts";
import { groupTurns, groupUnits, sumTokens } from "./units.ts";

const count = approxTokenCounter.countMessage;
const WORDS = ["plan", "the", "test", "fails", "in", "module", "read", "file", "ok", "patch"];

/** Deterministic filler text of about `chars` characters. */
export function filler(chars: number, seed = 0): string {
  let text = "";
  for (let i = seed; text.length < chars; i++) text += WORDS[i % WORDS.length] + " ";
  return text.slice(0, chars);
}

/** A context message of turn `turn`, counted by the approximate counter. */
export function item(message: ChatMessage, turn: number, index: number): ContextMessage {
  return { message, tokens: count(message), origin: { kind: "original", turn, index } };
}

type ValueOf<A> = A extends fc.Arbitrary<infer T> ? T : never;

/** One turn of a random history. */
const turnSpec = fc.record({
  withUser: fc.boolean(),
  userChars: fc.integer({ min: 0, max: 600 }),
  innerCalls: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
  replyCalls: fc.integer({ min: 0, max: 3 }),
  replyChars: fc.integer({ min: 0, max: 400 }),
  resultChars: fc.integer({ min: 0, max: 3000 }),
  error: fc.boolean(),
});

/** The shape of a random agent history. */
export type HistorySpec = {
  systemChars: number | undefined;
  firstTurn: number;
  turns: ValueOf<typeof turnSpec>[];
};

/** Random agent histories: users, assistants with 0-3 tool calls, their results, random sizes. */
export const historySpec: fc.Arbitrary<HistorySpec> = fc.record({
  systemChars: fc.option(fc.integer({ min: 1, max: 800 }), { nil: undefined }),
  firstTurn: fc.integer({ min: 1, max: 40 }),
  turns: fc.array(turnSpec, { minLength: 1, maxLength: 20, size: "+1" }),
});

/** Builds a history: each turn answers the last turn's tool calls (or asks), then replies. */
export function buildHistory(
  spec: HistorySpec,
): { system: ContextMessage[]; context: ContextMessage[] } {
  const system = spec.systemChars === undefined
    ? []
    : [item({ role: "system", content: filler(spec.systemChars) }, 0, 0)];
  const context: ContextMessage[] = [];
  let pending: ToolCall[] = [];
  let ids = 0;
  const calls = (n: number): ToolCall[] =>
    Array.from({ length: n }, (_, i) => ({
      id: `call_${++ids}`,
      type: "function" as const,
      function: { name: i % 2 ? "read_file" : "run_tests", arguments: `{"n":${ids}}` },
    }));
  spec.turns.forEach((t, k) => {
    const turn = spec.firstTurn + k;
    const messages: ChatMessage[] = [];
    const answer = (open: ToolCall[]) =>
      open.forEach((call, i) => {
        const text = filler(t.resultChars >> i, ids);
        const content = t.error && i === 0 ? `Traceback: ${text}\nAssertionError` : text;
        messages.push({ role: "tool", tool_call_id: call.id, content });
      });
    answer(pending);
    if (t.withUser || messages.length === 0) {
      messages.push({ role: "user", content: filler(t.userChars, turn) });
    }
    for (const n of t.innerCalls) {
      const inner = calls(n);
      messages.push({ role: "assistant", content: null, tool_calls: inner });
      answer(inner);
    }
    pending = calls(t.replyCalls);
    const text = filler(t.replyChars, turn + 1);
    messages.push(
      pending.length > 0
        ? { role: "assistant", content: text || null, tool_calls: pending }
        : { role: "assistant", content: text },
    );
    messages.forEach((m, index) => context.push(item(m, turn, index)));
  });
  return { system, context };
}

/** A summarizer that says how many messages it read, or, `verbose`, far more than it may. */
export function fakeSummarizer(verbose = false, calls: ChatMessage[][] = []): Summarizer {
  return (messages, { maxTokens }) => {
    calls.push(messages);
    const chars = messages.reduce((n, m) => n + JSON.stringify(m).length, 0);
    return Promise.resolve(
      verbose ? filler(maxTokens * 12) : `${messages.length} messages, ${chars} characters.`,
    );
  };
}

/** A random compression input over a random history. */
export const inputSpec = fc.record({
  history: historySpec,
  /** Where the target lies from what the newest turns need (0) to the whole input (1). */
  targetShare: fc.noBias(fc.integer({ min: -200, max: 1100 })).map((permille) => permille / 1000),
  keepRecentTurns: fc.integer({ min: 0, max: 3 }),
  summarizer: fc.constantFrom("none", "terse", "verbose"),
  /** Compress the first this-many turns first and append the rest, as a session does. */
  precompress: fc.integer({ min: 0, max: 12 }),
});

/** Makes the input `spec` describes, compacting part of the history first with `method`. */
export async function makeInput(
  method: Compressor,
  spec: ValueOf<typeof inputSpec>,
): Promise<CompressionInput> {
  const { system, context } = buildHistory(spec.history);
  const input: CompressionInput = {
    system,
    context,
    targetTokens: 0,
    keepRecentTurns: spec.keepRecentTurns,
    countMessage: count,
    summaries: [],
    ...(spec.summarizer === "none"
      ? {}
      : { summarize: fakeSummarizer(spec.summarizer === "verbose") }),
  };
  const cut = spec.history.firstTurn + spec.precompress;
  const head = context.filter((m) => m.origin.kind !== "summary" && m.origin.turn < cut);
  let grown = input;
  if (spec.precompress > 0 && head.length < context.length) {
    const targetTokens = Math.floor((sumTokens(system) + sumTokens(head)) / 2);
    const early = await method.compress({ ...input, context: head, targetTokens });
    const rest = context.slice(head.length);
    grown = { ...input, context: [...early.context, ...rest], summaries: early.summaries };
  }
  const total = sumTokens(system) + sumTokens(grown.context);
  const needed = protectedTokens(grown).turns;
  return {
    ...grown,
    targetTokens: Math.max(0, Math.floor(needed + spec.targetShare * (total - needed))),
  };
}

/** The oldest turn kept verbatim, computed here apart from units.ts. */
export function firstProtected(input: CompressionInput): number {
  const turns = [
    ...new Set(input.context.flatMap((m) => m.origin.kind === "summary" ? [] : [m.origin.turn])),
  ];
  turns.sort((a, b) => b - a);
  return turns[Math.max(1, input.keepRecentTurns) - 1] ?? turns.at(-1) ?? Infinity;
}

/** The tokens of the system prompt and the newest turns: their units, and the whole turns they reach. */
export function protectedTokens(input: CompressionInput): { units: number; turns: number } {
  const first = firstProtected(input);
  const units = groupUnits(input.context);
  const system = sumTokens(input.system);
  return {
    units: system + sumTokens(units.filter((u) => u.to >= first)),
    turns: system + sumTokens(groupTurns(units).filter((g) => g.to >= first)),
  };
}

/** `turns` turns of a user asking and the assistant answering, `chars` characters each. */
export function plainInput(
  turns: number,
  targetTokens: number,
  options: { chars?: number; summarize?: Summarizer; keepRecentTurns?: number } = {},
): CompressionInput {
  const chars = options.chars ?? 200;
  const { system, context } = buildHistory({
    systemChars: 40,
    firstTurn: 1,
    turns: Array.from({ length: turns }, () => ({
      withUser: true,
      userChars: chars,
      innerCalls: [],
      replyCalls: 0,
      replyChars: chars,
      resultChars: 0,
      error: false,
    })),
  });
  return {
    system,
    context,
    targetTokens,
    keepRecentTurns: options.keepRecentTurns ?? 2,
    countMessage: count,
    summaries: [],
    ...(options.summarize ? { summarize: options.summarize } : {}),
  };
}

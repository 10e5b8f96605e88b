/** A session's context as the next turn sends it: the system prompt, the last compaction's messages, and the originals since. */
import type { ContextMessage, SummarySegment } from "./compression/types.ts";
import type { ChatMessage } from "./messages.ts";
import type { CompactionRecord, SessionHead, TurnRecord } from "./records.ts";

/** What a session actor keeps in memory between turns, valid for one head versionstamp. */
export interface SessionContext {
  /** The head versionstamp this context matches. */
  versionstamp: string;
  /** The compaction the context starts from (0: none). */
  compaction: number;
  /** The first turn whose originals follow the compaction's messages. */
  baseTurn: number;
  /** The next turn not yet in `items`. */
  loadedTo: number;
  /** The system prompt's messages. */
  system: ContextMessage[];
  /** The messages after the system prompt. */
  items: ContextMessage[];
  /** The summaries the last compaction kept. */
  summaries: SummarySegment[];
  /**
   * The JSON of the first `messages` of `system` then `items` (the array it was made from),
   * comma-separated, kept between turns: `items` only grows, so each turn serializes what is new.
   */
  json?: { items: ContextMessage[]; messages: number; text: string };
  /** The tokens of the first `counted` of `items` (the array it was counted from), kept likewise. */
  counted?: { items: ContextMessage[]; counted: number; tokens: number };
}

/** The system prompt of `head` as context messages. */
export function systemMessages(
  head: SessionHead,
  countMessage: (m: ChatMessage) => number,
): ContextMessage[] {
  if (head.system === null) return [];
  const message: ChatMessage = { role: "system", content: head.system };
  return [{
    message,
    tokens: countMessage(message),
    origin: { kind: "original", turn: 0, index: 0 },
  }];
}

/** The messages of one turn as context: its input, then its reply, less the deleted ones. */
export function turnMessages(turn: TurnRecord): ContextMessage[] {
  const out: ContextMessage[] = [];
  const deleted = new Set(turn.deleted);
  turn.input.forEach((message, index) => {
    if (deleted.has(index)) return;
    out.push({
      message,
      tokens: turn.input_tokens[index] ?? 0,
      origin: { kind: "original", turn: turn.turn, index },
    });
  });
  turn.output.forEach((message, i) => {
    if (deleted.has(turn.input.length + i)) return;
    out.push({
      message,
      tokens: turn.output_tokens,
      origin: { kind: "original", turn: turn.turn, index: turn.input.length + i },
    });
  });
  return out;
}

/** A fresh context from a compaction (or none) and the turns after it. */
export function contextFrom(
  head: SessionHead,
  versionstamp: string,
  system: ContextMessage[],
  compaction: CompactionRecord | undefined,
  turns: TurnRecord[],
): SessionContext {
  const items = compaction ? [...compaction.context] : [];
  for (const t of turns) items.push(...turnMessages(t));
  return {
    versionstamp,
    compaction: head.compaction,
    baseTurn: head.base_turn,
    loadedTo: head.next_turn,
    system,
    items,
    summaries: compaction?.summaries ?? [],
  };
}

/** Tokens of a list of context messages. */
export function tokensOf(items: readonly ContextMessage[]): number {
  let n = 0;
  for (const m of items) n += m.tokens;
  return n;
}

/** Tokens of the context's `items`, counting only those added since the last call. */
export function itemsTokens(context: SessionContext): number {
  const { items } = context;
  let kept = context.counted;
  if (kept === undefined || kept.items !== items || kept.counted > items.length) {
    kept = context.counted = { items, counted: 0, tokens: 0 };
  }
  for (let i = kept.counted; i < items.length; i++) kept.tokens += items[i]!.tokens;
  kept.counted = items.length;
  return kept.tokens;
}

/**
 * The JSON array of {@linkcode promptMessages}, as `JSON.stringify` writes it, from the context's
 * kept JSON (extended by the messages added since) and the new input's.
 */
export function promptJson(context: SessionContext, input: readonly ContextMessage[]): string {
  const { system, items } = context;
  const held = system.length + items.length;
  let kept = context.json;
  if (kept === undefined || kept.items !== items || kept.messages > held) {
    kept = context.json = { items, messages: 0, text: "" };
  }
  for (let i = kept.messages; i < held; i++) {
    const m = i < system.length ? system[i]! : items[i - system.length]!;
    kept.text += (i === 0 ? "" : ",") + JSON.stringify(m.message);
  }
  kept.messages = held;
  let out = "[" + kept.text;
  input.forEach((m, i) => out += (held + i === 0 ? "" : ",") + JSON.stringify(m.message));
  return out + "]";
}

/** The messages a prompt sends: system, context, then the new input. */
export function promptMessages(
  context: SessionContext,
  input: readonly ContextMessage[],
): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (const m of context.system) out.push(m.message);
  for (const m of context.items) out.push(m.message);
  for (const m of input) out.push(m.message);
  return out;
}

/** What Llama 3.1's template writes before the tool definitions it puts in the first user message. */
const TOOLS_PREAMBLE =
  "Given the following functions, please respond with a JSON for a function call with its proper " +
  "arguments that best answers the given prompt.\n\n" +
  'Respond in the format {"name": function name, "parameters": dictionary of argument name and ' +
  "its value}.Do not use variables.\n\n";

/**
 * The tokens a request's `tools` add to its prompt: the chat template writes their definitions
 * (JSON, indented by 4) into the prompt, so they count against the budget like the messages do.
 */
export function toolsTokens(
  tools: readonly unknown[] | undefined,
  countMessage: (m: ChatMessage) => number,
): number {
  if (!tools?.length) return 0;
  const text = TOOLS_PREAMBLE + tools.map((t) => `${JSON.stringify(t, null, 4)}\n\n`).join("");
  // An agent sends the same tools with every turn: their count is remembered, not tokenized again.
  let known = toolsCounts.get(countMessage);
  if (known === undefined) toolsCounts.set(countMessage, known = new Map());
  const kept = known.get(text);
  if (kept !== undefined) return kept;
  const tokens = countMessage({ role: "user", content: text });
  if (known.size >= TOOLS_KEPT) known.delete(known.keys().next().value!);
  known.set(text, tokens);
  return tokens;
}

/** Tool definitions whose token counts are remembered, per counter (the oldest go first). */
const TOOLS_KEPT = 64;
const toolsCounts = new WeakMap<(m: ChatMessage) => number, Map<string, number>>();

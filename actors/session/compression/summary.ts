/**
 * Summary messages for the methods that summarise: how they read, how they are made or reused, and
 * the fall-back to dropping turns when no model can be asked.
 *
 * A summary is a `user` message, `[Summary of turns 1-12]` and the text. Llama 3's templates
 * render any sequence of roles (two user messages in a row included), but Llama 3.1's template
 * with tools moves the tool definitions into the first message after the system prompt, reading
 * it as the user's whatever its role; a summary there must therefore be a user message to render
 * as what it is. A second system message would also be accepted by Llama 3 but is refused by
 * templates that allow a system message only first, and an assistant one would be the model's own
 * words as the very first turn.
 */
import type { ChatMessage } from "../messages.ts";
import { dropOldestTurns } from "./sliding_window.ts";
import type {
  CompressionInput,
  CompressionResult,
  ContextMessage,
  Summarizer,
  SummarySegment,
} from "./types.ts";
import {
  describeDropped,
  finish,
  firstProtectedTurn,
  groupTurns,
  groupUnits,
  inputTokens,
  keepNewest,
  sumTokens,
  type TurnGroup,
  turnLabel,
  turnsOf,
} from "./units.ts";

/** The most tokens a summary message takes, and at most a quarter of what the target leaves. */
export const SUMMARY_TOKENS = 512;

/** A summary with less room than this for its text is not made: its turns are dropped. */
export const MIN_SUMMARY_TEXT_TOKENS = 16;

/**
 * A summary gets at least this many tokens (or its allowance, if less) even when the newest turns
 * kept verbatim leave no room under the target: its turns would otherwise be dropped outright, and
 * the method would be a sliding window. The prompt then passes the target by that much.
 */
export const MIN_SUMMARY_TOKENS = 64;

/** The tokens a summary may take with `roomTokens` left under the target. */
export function summaryRoom(roomTokens: number, allowance: number): number {
  return Math.min(allowance, Math.max(roomTokens, MIN_SUMMARY_TOKENS));
}

/** The tokens of a summary message that `input`'s target leaves room for. */
export function summaryAllowance(input: CompressionInput): number {
  return Math.min(
    SUMMARY_TOKENS,
    Math.floor((input.targetTokens - sumTokens(input.system)) / 4),
  );
}

/**
 * The split a summarising method starts from: the newest whole turns that fit the target less the
 * system prompt and `reserve(allowance, systemTokens)` (the newest protected turns always), and
 * the older ones to summarise.
 */
export function splitForSummary(
  input: CompressionInput,
  reserve: (allowance: number, systemTokens: number) => number = (allowance) => allowance,
): { kept: TurnGroup[]; older: TurnGroup[]; systemTokens: number; allowance: number } {
  const groups = groupTurns(groupUnits(input.context));
  const first = firstProtectedTurn(input.context, input.keepRecentTurns);
  const systemTokens = sumTokens(input.system);
  const allowance = summaryAllowance(input);
  const room = input.targetTokens - systemTokens - reserve(allowance, systemTokens);
  return { ...keepNewest(groups, room, first), systemTokens, allowance };
}

/** What a method that summarises works with: the summarizer, the summaries made, its actions. */
export interface SummaryWork {
  input: CompressionInput;
  summarize: Summarizer;
  made: SummarySegment[];
  actions: string[];
}

function summaryMessage(
  span: { from: number; to: number; level: number },
  text: string,
  countMessage: (message: ChatMessage) => number,
): ContextMessage {
  const message: ChatMessage = {
    role: "user",
    content: `[Summary of ${turnLabel(span.from, span.to)}]\n${text}`,
  };
  return { message, tokens: countMessage(message), origin: { kind: "summary", ...span } };
}

/** `text` cut to its first `length` characters (not inside a surrogate pair), marked as cut. */
function cut(text: string, length: number): string {
  const code = text.charCodeAt(length - 1);
  const end = code >= 0xd800 && code <= 0xdbff ? length - 1 : length;
  return text.slice(0, end) + "…";
}

/** The longest start of `text` whose summary message fits in `maxTokens`, or null. */
function fitText(
  span: { from: number; to: number; level: number },
  text: string,
  maxTokens: number,
  countMessage: (message: ChatMessage) => number,
): string | null {
  const fits = (t: string) => summaryMessage(span, t, countMessage).tokens <= maxTokens;
  if (fits(text)) return text;
  let lo = 0;
  let hi = text.length - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(cut(text, mid))) lo = mid;
    else hi = mid - 1;
  }
  return lo > 0 && fits(cut(text, lo)) ? cut(text, lo) : null;
}

/**
 * One summary message at `level` standing for `items`, in at most `maxTokens`: an earlier summary
 * of the same turns and level when there is one, else the summarizer's; cut to fit when the model
 * wrote too much. Null (the turns are dropped) when there is no room for one.
 */
export async function summarizeItems(
  work: SummaryWork,
  items: readonly ContextMessage[],
  level: number,
  maxTokens: number,
): Promise<ContextMessage | null> {
  const turns = items.map(turnsOf);
  const span = {
    from: Math.min(...turns.map((t) => t.from)),
    to: Math.max(...turns.map((t) => t.to)),
    level,
  };
  const { countMessage } = work.input;
  const same = (s: SummarySegment) => s.from === span.from && s.to === span.to && s.level === level;
  const known = work.made.find(same) ?? work.input.summaries.find(same);
  const textTokens = maxTokens - summaryMessage(span, "", countMessage).tokens;
  const dropped = () => {
    work.actions.push(...describeDropped([{ ...span, tokens: sumTokens(items) }]));
    return null;
  };
  if (known === undefined && textTokens < MIN_SUMMARY_TEXT_TOKENS) return dropped();
  const text = known?.text ??
    (await work.summarize(items.map((i) => i.message), { maxTokens: textTokens })).trim();
  const fitted = fitText(span, text, maxTokens, countMessage);
  if (fitted === null) return dropped();
  const item = summaryMessage(span, fitted, countMessage);
  if (known === undefined || fitted !== known.text) {
    const earlier = work.made.findIndex(same);
    if (earlier >= 0) work.made.splice(earlier, 1);
    work.made.push({ ...span, text: fitted, tokens: item.tokens });
  }
  const how = known === undefined ? "summarized" : "reused the summary of";
  const note = fitted === text ? "" : ", cut to fit";
  work.actions.push(
    `${how} ${
      turnLabel(span.from, span.to)
    } as a level-${level} summary (${item.tokens} tokens${note})`,
  );
  return item;
}

function fallBack(input: CompressionInput, reason: string): CompressionResult {
  const result = dropOldestTurns(input);
  return { ...result, actions: [`${reason}: fell back to sliding_window`, ...result.actions] };
}

/**
 * Runs a summarising method on an input over its target; one under it is returned unchanged, and
 * without a summarizer, or when it fails, the oldest turns are dropped instead.
 */
export async function withSummarizer(
  input: CompressionInput,
  run: (work: SummaryWork) => Promise<CompressionResult>,
): Promise<CompressionResult> {
  if (inputTokens(input) <= input.targetTokens) return finish(input, [...input.context], [], []);
  const summarize = input.summarize;
  if (summarize === undefined) return fallBack(input, "no summarizer is available");
  try {
    return await run({ input, summarize, made: [], actions: [] });
  } catch (error) {
    return fallBack(
      input,
      `the summarizer failed (${error instanceof Error ? error.message : String(error)})`,
    );
  }
}

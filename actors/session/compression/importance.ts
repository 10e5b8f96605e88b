/**
 * Importance: every unit older than the protected turns gets a score, and the highest-scoring ones
 * that fit are kept, in their original order. User instructions, summaries and tool results that
 * report an error score high, plain assistant chatter low, and newer units above older ones.
 */
import { contentText } from "../messages.ts";
import type { Compressor } from "./types.ts";
import {
  finish,
  firstProtectedTurn,
  groupUnits,
  inputTokens,
  messagesOf,
  sumTokens,
  turnLabel,
  type Unit,
} from "./units.ts";

/** What a tool result that failed says. */
export const ERROR_PATTERN =
  /\b(errors?|exceptions?|traceback|failed|failure|fatal|panic(ked)?)\b|non-zero exit|exit (code|status):? *[1-9]/i;

/** Scores by kind: recency adds up to 1 on top, so kinds order first and age breaks ties. */
const SCORES = { instruction: 3, error: 3, toolCall: 1, chatter: 0 } as const;

/** A unit's score before recency. */
export function unitScore(unit: Unit): number {
  const head = unit.messages[0]!;
  if (head.origin.kind === "summary") return SCORES.instruction;
  const tools = unit.messages.filter((m) => m.message.role === "tool");
  if (tools.some((m) => ERROR_PATTERN.test(contentText(m.message)))) return SCORES.error;
  if (head.message.role === "assistant") {
    return head.message.tool_calls?.length ? SCORES.toolCall : SCORES.chatter;
  }
  return head.message.role === "tool" ? SCORES.toolCall : SCORES.instruction;
}

/** The importance method. */
export const importance: Compressor = {
  name: "importance",
  compress(input) {
    if (inputTokens(input) <= input.targetTokens) {
      return Promise.resolve(finish(input, [...input.context], [], []));
    }
    const units = groupUnits(input.context);
    const first = firstProtectedTurn(input.context, input.keepRecentTurns);
    const isProtected = (u: Unit) => u.to >= first;
    const oldest = units[0]?.from ?? 0;
    const span = Math.max(1, (units.at(-1)?.to ?? 0) - oldest + 1);
    const ranked = units
      .map((unit, index) => ({ unit, index, score: unitScore(unit) + (unit.to - oldest) / span }))
      .filter((r) => !isProtected(r.unit))
      .sort((a, b) => b.score - a.score || b.index - a.index);
    let room = input.targetTokens - sumTokens(input.system) -
      sumTokens(units.filter(isProtected));
    const keep = new Set(units.filter(isProtected));
    for (const { unit } of ranked) {
      if (unit.tokens > room) continue;
      keep.add(unit);
      room -= unit.tokens;
    }
    const dropped = units.filter((u) => !keep.has(u));
    const actions = dropped.length === 0 ? [] : [
      `dropped ${dropped.length} units of low importance from ${
        turnLabel(dropped[0]!.from, dropped.at(-1)!.to)
      } (${sumTokens(dropped)} tokens)`,
    ];
    return Promise.resolve(
      finish(input, messagesOf(units.filter((u) => keep.has(u))), [], actions),
    );
  },
};

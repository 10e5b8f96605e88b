/**
 * What every method cuts a context into: units (a message, or an assistant tool call with all its
 * results), whole turns made of units, and the newest turns that are never compressed.
 */
import type {
  CompressionInput,
  CompressionResult,
  ContextMessage,
  SummarySegment,
} from "./types.ts";

/** A run of messages that is kept or dropped as one: a tool call is never parted from its results. */
export interface Unit {
  /** Its messages, in context order. */
  messages: ContextMessage[];
  /** The first and last turn its messages come from. */
  from: number;
  to: number;
  /** The sum of its messages' tokens. */
  tokens: number;
}

/**
 * Whole turns: consecutive units that share a turn. A tool call at the end of one turn whose
 * results open the next joins both turns into one group, but a turn that itself calls tools starts
 * a new one: an agent loop, where every turn answers the calls before it and makes its own, is a
 * chain of steps that can be dropped one by one, not one group that never can.
 */
export interface TurnGroup {
  /** Its units, in context order. */
  units: Unit[];
  /** The first and last turn it covers. */
  from: number;
  to: number;
  /** The sum of its units' tokens. */
  tokens: number;
}

/** The turns a context message stands for: its own, or those a summary covers. */
export function turnsOf(item: ContextMessage): { from: number; to: number } {
  const o = item.origin;
  return o.kind === "summary" ? { from: o.from, to: o.to } : { from: o.turn, to: o.turn };
}

/** The sum of the items' tokens. */
export function sumTokens(items: readonly { tokens: number }[]): number {
  let total = 0;
  for (const item of items) total += item.tokens;
  return total;
}

/** `turn 3` or `turns 1-12`. */
export function turnLabel(from: number, to: number): string {
  return from === to ? `turn ${from}` : `turns ${from}-${to}`;
}

/** A unit or group made of `parts`, its turns and tokens summed up. */
function spanOf<T extends { from: number; to: number; tokens: number }>(parts: T[]) {
  return {
    from: Math.min(...parts.map((p) => p.from)),
    to: Math.max(...parts.map((p) => p.to)),
    tokens: sumTokens(parts),
  };
}

/** Cuts `context` into units: each assistant tool call takes the tool results that follow it. */
export function groupUnits(context: readonly ContextMessage[]): Unit[] {
  const units: Unit[] = [];
  let i = 0;
  while (i < context.length) {
    const messages = [context[i]!];
    const head = context[i]!.message;
    i++;
    const open = new Set(head.role === "assistant" ? (head.tool_calls ?? []).map((c) => c.id) : []);
    while (open.size > 0 && i < context.length) {
      const next = context[i]!;
      if (next.message.role !== "tool" || !open.delete(next.message.tool_call_id)) break;
      messages.push(next);
      i++;
    }
    units.push({ messages, ...spanOf(messages.map((m) => ({ ...turnsOf(m), tokens: m.tokens }))) });
  }
  return units;
}

/** Joins units into whole turns, never splitting a unit. */
export function groupTurns(units: readonly Unit[]): TurnGroup[] {
  const groups: Unit[][] = [];
  for (const unit of units) {
    const last = groups.at(-1);
    const sameTurn = last !== undefined && unit.from <= last.at(-1)!.to;
    if (sameTurn && (unit.from === last[0]!.from || !callsTools(unit))) last.push(unit);
    else groups.push([unit]);
  }
  return groups.map((g) => ({ units: g, ...spanOf(g) }));
}

function callsTools(unit: Unit): boolean {
  const first = unit.messages[0]!.message;
  return first.role === "assistant" && (first.tool_calls?.length ?? 0) > 0;
}

/** The messages of `groups`, in order. */
export function messagesOf(groups: readonly (TurnGroup | Unit)[]): ContextMessage[] {
  return groups.flatMap((g) => "units" in g ? g.units.flatMap((u) => u.messages) : g.messages);
}

/**
 * The oldest turn that is kept verbatim: the `keepRecentTurns`-th newest turn of the original
 * messages. At least the newest turn is kept, since it holds the request being answered; a context
 * of summaries only protects nothing.
 */
export function firstProtectedTurn(context: readonly ContextMessage[], keepRecentTurns: number) {
  const turns = new Set<number>();
  for (const item of context) if (item.origin.kind !== "summary") turns.add(item.origin.turn);
  const newest = [...turns].sort((a, b) => b - a).slice(0, Math.max(1, keepRecentTurns));
  return newest.length === 0 ? Infinity : newest.at(-1)!;
}

/**
 * Splits `groups` into the newest that fit in `roomTokens` (the protected ones, from
 * `firstProtected` on, whether they fit or not) and the older ones before them.
 */
export function keepNewest(
  groups: readonly TurnGroup[],
  roomTokens: number,
  firstProtected: number,
): { kept: TurnGroup[]; older: TurnGroup[] } {
  let used = 0;
  let start = groups.length;
  while (start > 0) {
    const group = groups[start - 1]!;
    if (group.to < firstProtected && used + group.tokens > roomTokens) break;
    used += group.tokens;
    start--;
  }
  return { kept: groups.slice(start), older: groups.slice(0, start) };
}

/** `dropped turns 1-12 (3456 tokens)`, or nothing when `groups` is empty. */
export function describeDropped(
  spans: readonly { from: number; to: number; tokens: number }[],
  why = "",
): string[] {
  if (spans.length === 0) return [];
  const { from, to, tokens } = spanOf([...spans]);
  return [`dropped ${turnLabel(from, to)} (${tokens} tokens)${why}`];
}

/** The input's tokens, system prompt included. */
export function inputTokens(input: CompressionInput): number {
  return sumTokens(input.system) + sumTokens(input.context);
}

/**
 * The result of a method that made `context`: its tokens with the system prompt's, the summaries
 * it still uses (`made` first, then the input's), and a last action when it missed the target.
 */
export function finish(
  input: CompressionInput,
  context: ContextMessage[],
  made: readonly SummarySegment[],
  actions: string[],
): CompressionResult {
  const tokens = sumTokens(input.system) + sumTokens(context);
  const used = new Set<string>();
  for (const item of context) {
    const o = item.origin;
    if (o.kind === "summary") used.add(`${o.from}-${o.to}-${o.level}`);
  }
  const summaries: SummarySegment[] = [];
  for (const s of [...made, ...input.summaries]) {
    if (used.delete(`${s.from}-${s.to}-${s.level}`)) summaries.push(s);
  }
  summaries.sort((a, b) => a.from - b.from || a.level - b.level);
  if (tokens > input.targetTokens) {
    actions.push(
      `kept ${tokens} tokens, over the target of ${input.targetTokens}: the system prompt and the newest turns do not fit in it`,
    );
  }
  return { context, tokens, summaries, actions };
}

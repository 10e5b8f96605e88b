/**
 * Hierarchical: the newest turns verbatim, older ones as level-1 summaries of a few turns each,
 * and, when those summaries overflow, summaries of summaries (level 2, 3, ...): two neighbours of
 * the lowest levels are merged at a time, so old history grows coarser as a balanced tree.
 */
import {
  splitForSummary,
  summarizeItems,
  summaryRoom,
  type SummaryWork,
  withSummarizer,
} from "./summary.ts";
import type { Compressor, ContextMessage } from "./types.ts";
import { finish, messagesOf, sumTokens, type TurnGroup } from "./units.ts";

/** The turns a level-1 summary covers (fewer when a tool call joins turns into a longer group). */
export const CHUNK_TURNS = 4;

/**
 * The share of the target (after the system prompt) left to summaries when older turns are
 * summarised, so that a compaction keeps a history of several summaries, not one.
 */
export const SUMMARY_SHARE = 0.25;

/** A summary is asked for at most half (merges) or a quarter (turns) of what it reads, and at least this. */
const MIN_ASK_TOKENS = 64;

/** The tokens to ask for a summary of `tokens` read, at most `allowance`. */
function askFor(tokens: number, share: number, allowance: number): number {
  return Math.min(allowance, Math.max(MIN_ASK_TOKENS, Math.ceil(tokens * share)));
}

function levelOf(item: ContextMessage): number {
  return item.origin.kind === "summary" ? item.origin.level : 0;
}

/** Cuts `older` into chunks of about CHUNK_TURNS turns; summaries already made stay apart. */
function chunksOf(older: readonly TurnGroup[]): (ContextMessage | TurnGroup[])[] {
  const parts: (ContextMessage | TurnGroup[])[] = [];
  let chunk: TurnGroup[] = [];
  const flush = () => {
    if (chunk.length > 0) parts.push(chunk);
    chunk = [];
  };
  for (const group of older) {
    const head = group.units[0]!.messages[0]!;
    if (head.origin.kind === "summary" && group.units.length === 1) {
      flush();
      parts.push(head);
      continue;
    }
    chunk.push(group);
    if (group.to - chunk[0]!.from + 1 >= CHUNK_TURNS) flush();
  }
  flush();
  return parts;
}

/** Level-1 summaries of `older`'s chunks, asked for at once, their actions kept in order. */
async function summarizeChunks(
  work: SummaryWork,
  older: readonly TurnGroup[],
  allowance: number,
): Promise<ContextMessage[]> {
  const results = await Promise.all(
    chunksOf(older).map(async (part) => {
      const own: SummaryWork = { ...work, made: [], actions: [] };
      if (!Array.isArray(part)) return { item: part, own };
      const ask = askFor(sumTokens(part), 1 / 4, allowance);
      return { item: await summarizeItems(own, messagesOf(part), 1, ask), own };
    }),
  );
  const items: ContextMessage[] = [];
  for (const { item, own } of results) {
    work.made.push(...own.made);
    work.actions.push(...own.actions);
    if (item !== null) items.push(item);
  }
  return items;
}

/** Merges neighbouring summaries, lowest levels first, until they fit in `roomTokens`. */
async function fold(
  work: SummaryWork,
  items: ContextMessage[],
  roomTokens: number,
  allowance: number,
): Promise<void> {
  while (items.length > 1 && sumTokens(items) > roomTokens) {
    let best = 0;
    let bestLevel = Infinity;
    for (let i = 0; i + 1 < items.length; i++) {
      const level = Math.max(levelOf(items[i]!), levelOf(items[i + 1]!));
      if (level < bestLevel) [best, bestLevel] = [i, level];
    }
    const pair = items.slice(best, best + 2);
    const ask = askFor(sumTokens(pair), 1 / 2, allowance);
    const merged = await summarizeItems(work, pair, bestLevel + 1, ask);
    items.splice(best, 2, ...(merged === null ? [] : [merged]));
  }
  const last = items[0];
  if (items.length === 1 && last !== undefined && last.tokens > roomTokens) {
    const cut = await summarizeItems(work, [last], levelOf(last), roomTokens);
    items.splice(0, 1, ...(cut === null ? [] : [cut]));
  }
}

/** The hierarchical method. */
export const hierarchical: Compressor = {
  name: "hierarchical",
  compress(input) {
    return withSummarizer(input, async (work) => {
      const { kept, older, systemTokens, allowance } = splitForSummary(
        input,
        (allowance, systemTokens) =>
          Math.max(allowance, Math.floor((input.targetTokens - systemTokens) * SUMMARY_SHARE)),
      );
      const verbatim = messagesOf(kept);
      const items = await summarizeChunks(work, older, allowance);
      const room = input.targetTokens - systemTokens - sumTokens(verbatim);
      await fold(work, items, Math.max(room, summaryRoom(room, allowance)), allowance);
      return finish(input, [...items, ...verbatim], work.made, work.actions);
    });
  },
};

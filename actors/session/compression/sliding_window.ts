/** Sliding window: the system prompt and the newest whole turns that fit; older turns are dropped. */
import type { CompressionInput, CompressionResult, Compressor } from "./types.ts";
import {
  describeDropped,
  finish,
  firstProtectedTurn,
  groupTurns,
  groupUnits,
  inputTokens,
  keepNewest,
  messagesOf,
  sumTokens,
} from "./units.ts";

/** Keeps the newest whole turns of `input.context` that fit in the target, and the protected ones. */
export function dropOldestTurns(input: CompressionInput): CompressionResult {
  if (inputTokens(input) <= input.targetTokens) return finish(input, [...input.context], [], []);
  const groups = groupTurns(groupUnits(input.context));
  const first = firstProtectedTurn(input.context, input.keepRecentTurns);
  const room = input.targetTokens - sumTokens(input.system);
  const { kept, older } = keepNewest(groups, room, first);
  return finish(input, messagesOf(kept), [], describeDropped(older));
}

/** The sliding-window method. */
export const slidingWindow: Compressor = {
  name: "sliding_window",
  compress(input) {
    return Promise.resolve(dropOldestTurns(input));
  },
};

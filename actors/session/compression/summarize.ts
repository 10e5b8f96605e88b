/**
 * Summarize: the oldest turns become one rolling summary. When the context overflows again, that
 * summary and the next-oldest turns are summarised together into a new one, so a single summary
 * always stands for everything before the turns kept verbatim.
 */
import { splitForSummary, summarizeItems, summaryRoom, withSummarizer } from "./summary.ts";
import type { Compressor } from "./types.ts";
import { finish, messagesOf, sumTokens } from "./units.ts";

/** The summarize method. */
export const summarize: Compressor = {
  name: "summarize",
  compress(input) {
    return withSummarizer(input, async (work) => {
      const { kept, older, systemTokens, allowance } = splitForSummary(input);
      const room = input.targetTokens - systemTokens - sumTokens(kept);
      const context = messagesOf(kept);
      if (older.length > 0) {
        const summary = await summarizeItems(
          work,
          messagesOf(older),
          1,
          summaryRoom(room, allowance),
        );
        if (summary !== null) context.unshift(summary);
      }
      return finish(input, context, work.made, work.actions);
    });
  },
};

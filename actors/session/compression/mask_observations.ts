/**
 * Observation masking: old tool outputs give way to a one-line placeholder, oldest first and only
 * as many as the target needs, while the tool messages, their call ids and the assistant calls
 * stay, so the model still sees what it did. When masking every old output is not enough, the
 * oldest whole turns are dropped as in sliding_window.
 */
import type { Compressor, ContextMessage } from "./types.ts";
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
  turnLabel,
} from "./units.ts";

/** The placeholder a cleared tool output reads as. */
export function maskedContent(toolName: string, callId: string, tokens: number): string {
  return `[tool output of ${toolName} (call ${callId}) cleared: ${tokens} tokens]`;
}

/** The mask_observations method. */
export const maskObservations: Compressor = {
  name: "mask_observations",
  compress(input) {
    if (inputTokens(input) <= input.targetTokens) {
      return Promise.resolve(finish(input, [...input.context], [], []));
    }
    const first = firstProtectedTurn(input.context, input.keepRecentTurns);
    const names = new Map<string, string>();
    for (const { message } of input.context) {
      if (message.role !== "assistant") continue;
      for (const call of message.tool_calls ?? []) names.set(call.id, call.function.name);
    }
    let excess = inputTokens(input) - input.targetTokens;
    let saved = 0;
    const maskedTurns: number[] = [];
    const context = input.context.map((item): ContextMessage => {
      const { message, origin } = item;
      if (excess <= 0 || message.role !== "tool" || origin.kind !== "original") return item;
      if (origin.turn >= first) return item;
      const id = message.tool_call_id;
      const content = maskedContent(names.get(id) ?? "a tool", id, item.tokens);
      const masked = { ...message, content };
      const tokens = input.countMessage(masked);
      if (tokens >= item.tokens) return item;
      excess -= item.tokens - tokens;
      saved += item.tokens - tokens;
      maskedTurns.push(origin.turn);
      return { message: masked, tokens, origin: { ...origin, kind: "masked" } };
    });
    const actions = maskedTurns.length === 0 ? [] : [
      `masked ${maskedTurns.length} tool outputs of ${
        turnLabel(maskedTurns[0]!, maskedTurns.at(-1)!)
      } (saved ${saved} tokens)`,
    ];
    if (excess <= 0) return Promise.resolve(finish(input, context, [], actions));
    const room = input.targetTokens - sumTokens(input.system);
    const { kept, older } = keepNewest(groupTurns(groupUnits(context)), room, first);
    actions.push(...describeDropped(older));
    return Promise.resolve(finish(input, messagesOf(kept), [], actions));
  },
};

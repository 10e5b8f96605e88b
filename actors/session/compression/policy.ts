/**
 * When a session's prompt is compacted, and to what size. A prompt is compacted only when it would
 * pass `threshold` of the budget, and then down to `target`: between compactions the context only
 * grows at its end, so its prefix stays byte-identical and the replica's prefix cache keeps serving
 * it; the gap between the two marks is how many turns that lasts.
 */
import type { CompressionPolicy, ContextMessage } from "./types.ts";
import { sumTokens } from "./units.ts";

/** Whether to compact a prompt, and the tokens a compaction should bring it down to. */
export interface CompactionPlan {
  /** True when the prompt passes `threshold * budgetTokens` and the policy has a method. */
  compact: boolean;
  /** `target * budgetTokens`, rounded down. */
  targetTokens: number;
}

/** Decides whether a prompt of `promptTokens` (system prompt included) is compacted. */
export function planCompaction(policy: CompressionPolicy, promptTokens: number): CompactionPlan {
  return {
    compact: policy.method !== "none" && promptTokens > policy.threshold * policy.budgetTokens,
    targetTokens: Math.floor(policy.target * policy.budgetTokens),
  };
}

/** A prompt over its budget, as the 400 an OpenAI client expects. */
export interface ContextOverflow {
  status: 400;
  code: "context_length_exceeded";
  message: string;
  param: "messages";
}

/**
 * The error for a prompt of `promptTokens` (after any compaction) over the policy's budget, or
 * null when it fits. With method "none" nothing is compacted, so any prompt over budget is one.
 */
export function contextOverflow(
  policy: CompressionPolicy,
  promptTokens: number,
): ContextOverflow | null {
  if (promptTokens <= policy.budgetTokens) return null;
  const why = policy.method === "none" ? "and its compression is off" : "even after compression";
  return {
    status: 400,
    code: "context_length_exceeded",
    message:
      `This prompt is ${promptTokens} tokens, over the session's budget of ${policy.budgetTokens} tokens ${why}; shorten the new messages or choose a compression method`,
    param: "messages",
  };
}

/** The tokens of a prompt made of `system` and `context`. */
export function contextTokens(
  system: readonly ContextMessage[],
  context: readonly ContextMessage[],
): number {
  return sumTokens(system) + sumTokens(context);
}

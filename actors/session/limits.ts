/** Per-session limits checked before a turn: tokens, tool calls a minute, duration. */
import type { SessionHead } from "./records.ts";

/** Why a request was refused, in OpenAI's error terms. */
export interface Refusal {
  status: number;
  code: string;
  message: string;
  param?: string | null;
  /** Seconds, for a Retry-After header. */
  retryAfter?: number;
}

/** Tool calls counted in the per-minute limit are those of the last minute. */
export const TOOL_CALL_WINDOW_MS = 60_000;

/** The tool call times of `head` still inside the window at `now`. */
export function recentToolCalls(head: SessionHead, now: number): number[] {
  return head.tool_call_times.filter((t) => t > now - TOOL_CALL_WINDOW_MS);
}

/**
 * The limit a new turn of `head` would break at `now`, or undefined. A budget (tokens, duration)
 * is a 403, as it does not come back by waiting; a rate (tool calls a minute) is a 429 with the
 * seconds until the oldest counted call leaves the window.
 */
export function checkTurnLimits(head: SessionHead, now: number): Refusal | undefined {
  const { limits, usage } = head;
  if (limits.max_duration_seconds !== null) {
    const endsAt = head.created_at_ms + limits.max_duration_seconds * 1000;
    if (now >= endsAt) {
      return {
        status: 403,
        code: "session_duration_exceeded",
        message:
          `The session reached its max_duration_seconds limit (${limits.max_duration_seconds} s, ended at ${
            new Date(endsAt).toISOString()
          }); start a new session`,
      };
    }
  }
  if (limits.max_tokens !== null) {
    const used = usage.prompt_tokens + usage.completion_tokens;
    if (used >= limits.max_tokens) {
      return {
        status: 403,
        code: "session_tokens_exceeded",
        message:
          `The session used ${used} tokens of its max_tokens limit (${limits.max_tokens}); the budget does not reset, start a new session`,
      };
    }
  }
  if (limits.max_tool_calls_per_minute !== null) {
    const recent = recentToolCalls(head, now);
    if (recent.length >= limits.max_tool_calls_per_minute) {
      const resetMs = Math.min(...recent) + TOOL_CALL_WINDOW_MS - now;
      const retryAfter = Math.max(1, Math.ceil(resetMs / 1000));
      return {
        status: 429,
        code: "tool_calls_rate_exceeded",
        message:
          `The session made ${recent.length} tool calls in the last minute, its max_tool_calls_per_minute limit (${limits.max_tool_calls_per_minute}); it resets in ${retryAfter} s`,
        retryAfter,
      };
    }
  }
  return undefined;
}

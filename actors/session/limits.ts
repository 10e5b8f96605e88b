/** Per-session limits checked before a turn: tokens, tool calls a minute, duration. */
import type { SessionsConfig } from "../../config/mod.ts";
import type { SessionHead, SessionLimits } from "./records.ts";

/** Why a request was refused, in OpenAI's error terms. */
export interface Refusal {
  status: number;
  code: string;
  message: string;
  param?: string | null;
  /** Seconds, for a Retry-After header. */
  retryAfter?: number;
}

/** The limits a session asks for at its creation; absent ones are the config's. */
export type AskedLimits = { [K in keyof SessionLimits]?: SessionLimits[K] | undefined };

/**
 * The limits of a new session: each the lower of what it asked for and the config's, so a
 * session may tighten the operator's limits but never lift them; null where neither sets one.
 */
export function sessionLimits(
  asked: AskedLimits | undefined,
  config: SessionsConfig["limits"],
): SessionLimits {
  return {
    max_tokens: lower(asked?.max_tokens, config.max_tokens_per_session),
    max_tool_calls_per_minute: lower(
      asked?.max_tool_calls_per_minute,
      config.max_tool_calls_per_minute,
    ),
    max_duration_seconds: lower(asked?.max_duration_seconds, config.max_duration),
  };
}

function lower(a: number | null | undefined, b: number | undefined): number | null {
  if (a === null || a === undefined) return b ?? null;
  return b === undefined ? a : Math.min(a, b);
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
          }); an extend does not lift it, start a new session`,
        param: "limits.max_duration_seconds",
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
        param: "limits.max_tokens",
      };
    }
  }
  if (limits.max_tool_calls_per_minute !== null) {
    const recent = recentToolCalls(head, now);
    if (recent.length >= limits.max_tool_calls_per_minute) {
      // A turn is free again once enough of the counted calls leave the window to go below the limit.
      const sorted = [...recent].sort((a, b) => a - b);
      const freedAt = sorted[recent.length - limits.max_tool_calls_per_minute]! +
        TOOL_CALL_WINDOW_MS;
      const retryAfter = Math.max(1, Math.ceil((freedAt - now) / 1000));
      return {
        status: 429,
        code: "tool_calls_rate_exceeded",
        message:
          `The session made ${recent.length} tool calls in the last minute, its max_tool_calls_per_minute limit (${limits.max_tool_calls_per_minute}); it resets in ${retryAfter} s (at ${
            new Date(now + retryAfter * 1000).toISOString()
          }), retry then`,
        param: "limits.max_tool_calls_per_minute",
        retryAfter,
      };
    }
  }
  return undefined;
}

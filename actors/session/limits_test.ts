import assert from "node:assert/strict";
import { checkTurnLimits, sessionLimits, TOOL_CALL_WINDOW_MS } from "./limits.ts";
import { type SessionHead, type SessionLimits, unturnedHead } from "./records.ts";

const NOW = 1_800_000_000_000;

function head(limits: Partial<SessionLimits>, over: Partial<SessionHead> = {}): SessionHead {
  return {
    v: 1,
    id: "s",
    model: "m",
    system: null,
    metadata: {},
    task_id: null,
    client_id: null,
    source: "api",
    state: "active",
    created_at_ms: NOW - 10_000,
    updated_at_ms: NOW,
    expires_at_ms: NOW + 3_600_000,
    ttl_seconds: 3600,
    on_busy: "reject",
    compression: {
      method: "none",
      budget_tokens: 1000,
      threshold: 0.8,
      target: 0.5,
      keep_recent_turns: 2,
    },
    limits: {
      max_tokens: null,
      max_tool_calls_per_minute: null,
      max_duration_seconds: null,
      ...limits,
    },
    ...unturnedHead(),
    ...over,
  };
}

Deno.test("checkTurnLimits() passes a session under its limits", () => {
  assert.equal(checkTurnLimits(head({}), NOW), undefined);
  assert.equal(
    checkTurnLimits(head({ max_tokens: 100, max_tool_calls_per_minute: 2 }), NOW),
    undefined,
  );
});

Deno.test("checkTurnLimits() refuses a spent token budget and a passed duration with a 403", () => {
  const usage = { ...head({}).usage, prompt_tokens: 80, completion_tokens: 20 };
  const tokens = checkTurnLimits(head({ max_tokens: 100 }, { usage }), NOW);
  assert.deepEqual([tokens?.status, tokens?.code, tokens?.param], [
    403,
    "session_tokens_exceeded",
    "limits.max_tokens",
  ]);
  const duration = checkTurnLimits(head({ max_duration_seconds: 10 }), NOW);
  assert.deepEqual([duration?.status, duration?.code, duration?.param], [
    403,
    "session_duration_exceeded",
    "limits.max_duration_seconds",
  ]);
  assert.equal(checkTurnLimits(head({ max_duration_seconds: 11 }), NOW), undefined);
});

Deno.test("checkTurnLimits() refuses tool calls past the rate until enough leave the window", () => {
  // Four calls against a limit of two: a turn is free once three have left, at most one counted.
  const times = [NOW - 50_000, NOW - 30_000, NOW - 10_000, NOW - 10_000];
  const r = checkTurnLimits(
    head({ max_tool_calls_per_minute: 2 }, { tool_call_times: times }),
    NOW,
  );
  assert.equal(r?.status, 429);
  assert.equal(r?.code, "tool_calls_rate_exceeded");
  assert.equal(r?.retryAfter, 50);
  assert.ok(r?.message.includes("resets in 50 s"), r?.message);
  const later = NOW + 50_000;
  assert.equal(
    checkTurnLimits(head({ max_tool_calls_per_minute: 2 }, { tool_call_times: times }), later),
    undefined,
  );
  const old = [NOW - TOOL_CALL_WINDOW_MS, NOW - TOOL_CALL_WINDOW_MS - 1];
  assert.equal(
    checkTurnLimits(head({ max_tool_calls_per_minute: 1 }, { tool_call_times: old }), NOW),
    undefined,
  );
});

Deno.test("sessionLimits() takes the lower of the session's and the config's, null for neither", () => {
  assert.deepEqual(sessionLimits(undefined, {}), {
    max_tokens: null,
    max_tool_calls_per_minute: null,
    max_duration_seconds: null,
  });
  assert.deepEqual(
    sessionLimits(
      { max_tokens: 50, max_tool_calls_per_minute: 100 },
      { max_tokens_per_session: 80, max_tool_calls_per_minute: 10, max_duration: 60 },
    ),
    { max_tokens: 50, max_tool_calls_per_minute: 10, max_duration_seconds: 60 },
  );
  assert.deepEqual(sessionLimits({ max_duration_seconds: 5 }, {}), {
    max_tokens: null,
    max_tool_calls_per_minute: null,
    max_duration_seconds: 5,
  });
});

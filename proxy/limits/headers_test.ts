import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { formatDuration, pushRateLimitHeaders, retryAfterSeconds } from "./headers.ts";

Deno.test("formatDuration() writes durations as OpenAI's reset headers do", () => {
  assertEquals(
    [0, -5, 0.2, 250, 1000, 2500, 17_125, 59_999, 60_000, 360_000, 90_500, 3_723_000].map(
      formatDuration,
    ),
    [
      "0s",
      "0s",
      "1ms",
      "250ms",
      "1s",
      "2.5s",
      "17.125s",
      "59.999s",
      "1m0s",
      "6m0s",
      "1m30.5s",
      "1h2m3s",
    ],
  );
});

Deno.test("pushRateLimitHeaders() writes limit, remaining (whole, not below 0) and reset", () => {
  const headers: [string, string][] = [];
  pushRateLimitHeaders(headers, "tokens", { limit: 1000, remaining: -3.5, resetMs: 6_000 });
  pushRateLimitHeaders(headers, "requests", { limit: 3, remaining: 2, resetMs: 0 });
  assertEquals(headers, [
    ["x-ratelimit-limit-tokens", "1000"],
    ["x-ratelimit-remaining-tokens", "0"],
    ["x-ratelimit-reset-tokens", "6s"],
    ["x-ratelimit-limit-requests", "3"],
    ["x-ratelimit-remaining-requests", "2"],
    ["x-ratelimit-reset-requests", "0s"],
  ]);
});

Deno.test("retryAfterSeconds() rounds up to whole seconds, at least 1", () => {
  assertEquals([0, 1, 999, 1000, 1001, 59_000].map(retryAfterSeconds), [1, 1, 1, 1, 2, 59]);
});

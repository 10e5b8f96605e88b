import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { estimateError, reusableTokens } from "./estimate.ts";
import type { RequestResult } from "./replay.ts";

function request(predicted: number | undefined, cached: number, prompt: number): RequestResult {
  return {
    index: 0,
    sentMs: 0,
    ttftMs: 1,
    e2eMs: 2,
    outputTokens: 1,
    backend: "a",
    error: undefined,
    ...(predicted === undefined ? {} : { predictedCachedTokens: predicted }),
    cachedTokens: cached,
    promptTokens: prompt,
  };
}

Deno.test("reusableTokens counts whole blocks before the prompt's last token", () => {
  assertEquals(reusableTokens(1024), 512);
  assertEquals(reusableTokens(1025), 1024);
  assertEquals(reusableTokens(100), 0);
});

Deno.test("estimateError caps each prediction at what the replica could report, and skips requests without one", () => {
  const error = estimateError([
    request(1024, 512, 1024), // capped to 512: exact
    request(2048, 0, 3000), // 2048 off
    request(0, 512, 1500), // 512 off the other way
    request(undefined, 512, 1500), // no estimate: not counted
    { ...request(512, 512, 1500), error: "boom" },
  ])!;
  assertEquals(error.requests, 3);
  assertEquals(error.meanAbsTokens, (0 + 2048 + 512) / 3);
  assertEquals(error.biasTokens, (512 + 2048 + 0 - 512 - 0 - 512) / 3);
  assertEquals(error.meanReportedTokens, 1024 / 3);
  assertEquals(estimateError([request(undefined, 0, 10)]), undefined);
});

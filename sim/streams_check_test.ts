import { assertEquals, assertGreater } from "./_assert.ts";
import { measureStreams } from "./streams_check.ts";

Deno.test("measureStreams() holds its streams open together and sees every one complete", async () => {
  const report = await measureStreams(40, { timeScale: 50, maxTokens: 8, promptChars: 500 });
  assertEquals(report.completed, 40);
  assertEquals(report.failed, 0);
  assertGreater(report.peakOpen, 1);
});

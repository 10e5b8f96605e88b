import { assertEquals, assertGreater } from "./_assert.ts";
import { measureStreams } from "./streams_check.ts";

Deno.test("measureStreams() holds its streams open together and sees every one complete", async () => {
  // At time scale 1 a stream of 16 tokens lasts about 90 ms, so the 40 overlap on a busy machine too.
  const report = await measureStreams(40, { timeScale: 1, maxTokens: 16, promptChars: 500 });
  assertEquals(report.completed, 40);
  assertEquals(report.failed, 0);
  assertGreater(report.peakOpen, 1);
});

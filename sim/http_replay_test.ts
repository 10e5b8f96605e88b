import { assertEquals, assertGreater } from "./_assert.ts";
import { replayTraceHttp } from "./http_replay.ts";
import { startSimulator } from "./server.ts";
import type { TraceRequest } from "./trace.ts";

Deno.test("replayTraceHttp() sends each record as a streamed chat and shared ids hit the cache", async () => {
  const sims = [
    await startSimulator({ timeScale: 100, tokenizer: "approx" }),
    await startSimulator({ timeScale: 100, tokenizer: "approx" }),
  ];
  try {
    const records: TraceRequest[] = Array.from({ length: 12 }, (_, i) => ({
      timestamp: i * 100,
      input_length: 3000,
      output_length: 4,
      hash_ids: [i % 2, 10 + (i % 2), 20 + (i % 2), 30 + i, 40 + i, 50 + i],
    }));
    const report = await replayTraceHttp(records, {
      urls: sims.map((s) => s.url),
      model: sims[0]!.model,
      timeScale: 100,
    });
    assertEquals(report.completed, 12);
    assertEquals(report.failed, 0);
    const hits = sims.reduce((n, s) => n + s.engine.kv.stats.hits, 0);
    assertGreater(hits, 0);
  } finally {
    await Promise.all(sims.map((s) => s.close()));
  }
});

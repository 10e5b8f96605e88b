import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import { startSimulator } from "../../sim/mod.ts";
import { streamClient } from "./stream_client.ts";

const MODEL = "llama-3.1-8b-sim";

Deno.test("the lean load generator sees the same stream as the openai client: content chunks, usage, headers", async () => {
  const sim = await startSimulator({ port: 0, timeScale: 50, tokenizer: "approx", seed: 3 });
  try {
    const seen: Record<string, { chunks: number; answer: unknown }> = {};
    for (const kind of ["openai", "lean"] as const) {
      const chat = streamClient(kind, sim.url, 10_000);
      let chunks = 0;
      let last = 0;
      // The same prompt twice: the second finds the first's blocks in the replica's cache.
      for (const _ of [1, 2]) {
        chunks = 0;
        let headers: Headers | undefined;
        const answer = await chat({
          model: MODEL,
          content: `${kind === "lean" ? "b" : "a"} `.repeat(3_000),
          maxTokens: 24,
          headers: { "x-session-id": "s" },
        }, (now) => {
          assert(now >= last);
          last = now;
          chunks++;
        }, (h) => headers = h);
        assert(headers?.get("content-type")?.startsWith("text/event-stream"));
        seen[kind] = { chunks, answer: answer.usage };
      }
    }
    assertEquals(seen.lean, seen.openai);
    const usage = seen.lean!.answer as { completionTokens: number; cachedTokens: number };
    assertEquals(usage.completionTokens, 24);
    assertEquals(seen.lean!.chunks, 24);
    assert(usage.cachedTokens > 0, JSON.stringify(usage));
  } finally {
    await sim.close();
  }
});

Deno.test("the lean load generator fails a refused request and a stream without data: [DONE]", async () => {
  const sim = await startSimulator({ port: 0, timeScale: 50, tokenizer: "approx" });
  const cut = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    () =>
      new Response('data: {"choices":[{"delta":{"content":"hi"}}]}\n\n', {
        headers: { "content-type": "text/event-stream" },
      }),
  );
  try {
    const request = { model: "no-such-model", content: "hi", maxTokens: 2, headers: {} };
    await rejects(streamClient("lean", sim.url, 10_000)(request, () => {}), /404/);
    const url = `http://127.0.0.1:${cut.addr.port}`;
    let chunks = 0;
    let headers: Headers | undefined;
    await rejects(
      streamClient("lean", url, 10_000)(
        { ...request, model: MODEL },
        () => chunks++,
        (h) => headers = h,
      ),
      /data: \[DONE\]/,
    );
    assertEquals(chunks, 1);
    // The headers came before the stream failed.
    assertEquals(headers?.get("content-type"), "text/event-stream");
  } finally {
    await cut.shutdown();
    await sim.close();
  }
});

import assert from "node:assert/strict";
import { runLoad } from "./load.ts";

function counter(status: number) {
  let hits = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.arrayBuffer();
    hits++;
    return new Response('{"ok":true}', { status });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/v1/chat/completions`,
    hits: () => hits,
    stop: () => server.shutdown(),
  };
}

Deno.test("runLoad sends to several URLs in turn and reports each on its own", async () => {
  const a = counter(200);
  const b = counter(500);
  try {
    const [ra, rb] = await runLoad([a.url, b.url], {
      concurrency: 1,
      durationS: 0.4,
      warmupS: 0.1,
      stream: false,
    });
    assert.ok(ra!.requests > 10, `a measured ${ra!.requests}`);
    assert.equal(ra!.errors, 0);
    assert.equal(rb!.requests, 0);
    assert.ok(rb!.errors > 10, "b's 500s are errors");
    // Turn by turn: the two servers were asked within one request of each other.
    assert.ok(Math.abs(a.hits() - b.hits()) <= 1, `${a.hits()} vs ${b.hits()}`);
    assert.ok(ra!.latencyMs.p50 <= ra!.latencyMs.p99);
    assert.ok(ra!.rps > 0);
  } finally {
    await a.stop();
    await b.stop();
  }
});

import OpenAI from "openai";
import { assert, assertEquals, assertGreater, assertRejects } from "./_assert.ts";
import { startSimulator } from "./server.ts";
import { MODEL, waitFor, withSim } from "./_testing.ts";

async function status(url: string, init?: RequestInit): Promise<number> {
  const response = await fetch(url, init);
  await response.body?.cancel();
  return response.status;
}

function chat(max_tokens = 3, stream = false): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: MODEL,
      max_tokens,
      stream,
      messages: [{ role: "user", content: "hi" }],
    }),
  };
}

Deno.test("during the start-up delay /health and requests answer 503, then 200", () =>
  // A delay no loaded machine outlasts, then a short one set by the admin endpoint that runs out.
  withSim({ tokenizer: "approx", startupDelayMs: 600_000 }, async (sim) => {
    assertEquals(await status(`${sim.url}/health`), 503);
    assertEquals(await status(`${sim.url}/v1/chat/completions`, chat()), 503);
    const patched = await fetch(`${sim.url}/admin/faults`, {
      method: "POST",
      body: JSON.stringify({ loading_ms: 100 }),
    });
    assertEquals((await patched.json()).loading, true);
    await waitFor("the model has loaded", async () => await status(`${sim.url}/health`) === 200);
    assertEquals(await status(`${sim.url}/v1/chat/completions`, chat()), 200);
  }));

Deno.test("an error rate of 1 answers every generation with a 500", () =>
  withSim({ tokenizer: "approx", timeScale: 50, errorRate: 1 }, async (_sim, client) => {
    const error = await assertRejects(() =>
      client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "a" }],
      })
    );
    assert(error instanceof OpenAI.InternalServerError);
  }));

Deno.test("an error rate of 0.5 fails about half the requests, deterministically for a seed", async () => {
  const outcomes: number[][] = [];
  for (let run = 0; run < 2; run++) {
    const sim = await startSimulator({
      tokenizer: "approx",
      timeScale: 50,
      errorRate: 0.5,
      seed: 9,
    });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 40; i++) {
        codes.push(await status(`${sim.url}/v1/chat/completions`, chat(1)));
      }
      outcomes.push(codes);
    } finally {
      await sim.close();
    }
  }
  assertEquals(outcomes[0], outcomes[1]);
  const failed = outcomes[0]!.filter((c) => c === 500).length;
  assertGreater(failed, 8);
  assertGreater(32, failed);
});

Deno.test("a hanging replica never answers until the client gives up", () =>
  withSim({ tokenizer: "approx", timeScale: 50, hangRate: 1 }, async (sim) => {
    const error = await assertRejects(() =>
      fetch(`${sim.url}/v1/chat/completions`, { ...chat(), signal: AbortSignal.timeout(300) })
    );
    assert(error instanceof DOMException, String(error));
    assertEquals(sim.engine.numRunning + sim.engine.numWaiting, 0);
  }));

Deno.test("a cut stream breaks off after the configured tokens without [DONE]", () =>
  withSim({
    tokenizer: "approx",
    timeScale: 50,
    cutRate: 1,
    cutAfterTokens: 2,
  }, async (sim) => {
    const response = await fetch(`${sim.url}/v1/chat/completions`, chat(50, true));
    let text = "";
    let broken = false;
    try {
      text = await response.text();
    } catch {
      broken = true;
    }
    assert(broken || !text.includes("[DONE]"), "the stream must not end cleanly");
    await waitFor("the cut request leaves the batch", () => sim.engine.numRunning === 0);
    assertEquals(sim.engine.numRunning, 0);
  }));

Deno.test("the admin endpoint sets faults, validates its body and clears them", () =>
  withSim({ tokenizer: "approx", timeScale: 50 }, async (sim) => {
    const post = (body: unknown) =>
      fetch(`${sim.url}/admin/faults`, { method: "POST", body: JSON.stringify(body) });
    const bad = await post({ error_rate: 3 });
    assertEquals(bad.status, 400);
    await bad.body?.cancel();
    const unknown = await post({ nonsense: true });
    assertEquals(unknown.status, 400);
    await unknown.body?.cancel();
    const ok = await post({ error_rate: 1, slow_token_ms: 25 });
    assertEquals((await ok.json()).error_rate, 1);
    assertEquals(sim.engine.extraStepMs, 25);
    assertEquals(await status(`${sim.url}/v1/chat/completions`, chat()), 500);
    const loading = await post({ loading_ms: 60_000 });
    await loading.body?.cancel();
    assertEquals(await status(`${sim.url}/health`), 503);
    const cleared = await fetch(`${sim.url}/admin/faults`, { method: "DELETE" });
    assertEquals((await cleared.json()).loading, false);
    assertEquals(await status(`${sim.url}/health`), 200);
    assertEquals(await status(`${sim.url}/v1/chat/completions`, chat()), 200);
  }));

Deno.test("slow tokens stretch the inter-token latency reported on /metrics", () =>
  withSim({ tokenizer: "approx", timeScale: 50, slowTokenMs: 500 }, async (sim, client) => {
    await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "a" }],
      max_tokens: 4,
    });
    const itl = sim.engine.metrics.itl;
    // 500 simulated ms extra per step, reported at time scale 50: at least 10 ms a token.
    assertGreater(itl.sum / itl.count, 0.01);
  }));

Deno.test("a frozen replica sends no byte on /health, /metrics or requests until the fault is cleared", () =>
  withSim({ tokenizer: "approx" }, async (sim) => {
    const post = (body: unknown) =>
      fetch(`${sim.url}/admin/faults`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      }).then((r) => r.json());
    assertEquals((await post({ freeze: true })).freeze, true);
    for (const path of ["/health", "/metrics"]) {
      const got = await fetch(`${sim.url}${path}`, { signal: AbortSignal.timeout(300) }).then(
        (r) => r.body?.cancel().then(() => "answered"),
        (error: Error) => error.name,
      );
      assertEquals(got, "TimeoutError", `${path} hangs`);
    }
    // A request held by the freeze is answered once the fault is cleared.
    const held = status(`${sim.url}/v1/chat/completions`, chat());
    assertEquals((await fetch(`${sim.url}/admin/faults`).then((r) => r.json())).freeze, true);
    await fetch(`${sim.url}/admin/faults`, { method: "DELETE" }).then((r) => r.body?.cancel());
    assertEquals(await held, 200);
    assertEquals(await status(`${sim.url}/health`), 200);
  }));

Deno.test("garbage answers come with status 200: a non-JSON body, a cut event stream, an HTML page", () =>
  withSim({ tokenizer: "approx" }, async (sim) => {
    const set = (garbage: string) =>
      fetch(`${sim.url}/admin/faults`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ garbage }),
      }).then((r) => r.body?.cancel());
    await set("non_json");
    let res = await fetch(`${sim.url}/v1/chat/completions`, chat());
    assertEquals([res.status, res.headers.get("content-type")], [200, "application/json"]);
    await assertRejects(() => res.json());
    await set("truncated_sse");
    res = await fetch(`${sim.url}/v1/chat/completions`, chat(3, true));
    assertEquals(res.headers.get("content-type"), "text/event-stream");
    const text = await res.text();
    assert(text.startsWith("data: {") && !text.includes("[DONE]") && !text.endsWith("\n\n"), text);
    await set("html");
    res = await fetch(`${sim.url}/v1/chat/completions`, chat(3, true));
    assertEquals(res.headers.get("content-type"), "text/html; charset=utf-8");
    assert((await res.text()).startsWith("<html>"));
    await set("none");
    assertEquals(await status(`${sim.url}/v1/chat/completions`, chat()), 200);
  }));

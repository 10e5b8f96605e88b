import OpenAI from "openai";
import { assert, assertEquals, assertGreater, assertRejects } from "./_assert.ts";
import { startSimulator } from "./server.ts";
import { MODEL, waitFor, withSim } from "./_testing.ts";

/** Starts a streamed chat of 5,000 tokens: it runs for many seconds at time scale 1. */
function longChatStream(url: string, signal?: AbortSignal): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    ...(signal ? { signal } : {}),
    body: JSON.stringify({
      model: MODEL,
      stream: true,
      max_tokens: 5000,
      messages: [{ role: "user", content: "go" }],
    }),
  });
}

Deno.test("chat completions answer with vLLM's shape and real token counts", () =>
  withSim({ timeScale: 50 }, async (_sim, client) => {
    const reply = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "Hello world" }],
      max_tokens: 7,
      seed: 3,
    });
    assert(reply.id.startsWith("chatcmpl-"));
    assertEquals(reply.object, "chat.completion");
    assertEquals(reply.choices[0]!.finish_reason, "length");
    assertEquals(reply.choices[0]!.message.role, "assistant");
    assertEquals(reply.usage!.completion_tokens, 7);
    assertGreater(reply.usage!.prompt_tokens, 20);
    assertEquals(reply.usage!.total_tokens, reply.usage!.prompt_tokens + 7);
    assertEquals(reply.choices[0]!.message.content!.split(" ").length, 7);
  }));

Deno.test("streamed chat sends a role chunk, one chunk per token, a usage chunk and [DONE]", () =>
  withSim({ timeScale: 50, tokenizer: "approx" }, async (sim, client) => {
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "x".repeat(5000) }],
      max_tokens: 5,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    assertEquals(chunks[0]!.choices[0]!.delta.role, "assistant");
    const content = chunks.filter((c) => c.choices[0]?.delta.content);
    assertEquals(content.length, 5);
    assertEquals(content.at(-1)!.choices[0]!.finish_reason, "length");
    const last = chunks.at(-1)!;
    assertEquals(last.choices, []);
    assertEquals(last.usage!.completion_tokens, 5);
    assertEquals(last.usage!.prompt_tokens, sim.engine.metrics.promptTokens);
  }));

Deno.test("a repeated prompt reports cached tokens in prompt_tokens_details", () =>
  withSim({ timeScale: 50, tokenizer: "approx" }, async (_sim, client) => {
    const messages = [{ role: "user" as const, content: "y".repeat(2048 * 5) }];
    const first = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 1 });
    const second = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 1 });
    assertEquals(first.usage!.prompt_tokens_details!.cached_tokens, 0);
    assertEquals(second.usage!.prompt_tokens_details!.cached_tokens, 5 * 512);
  }));

Deno.test("completions stream and answer, and the text is the same for the same seed", () =>
  withSim({ timeScale: 50, tokenizer: "approx" }, async (_sim, client) => {
    const a = await client.completions.create({
      model: MODEL,
      prompt: "Once",
      max_tokens: 6,
      seed: 11,
    });
    const b = await client.completions.create({
      model: MODEL,
      prompt: "Other",
      max_tokens: 6,
      seed: 11,
    });
    assertEquals(a.object, "text_completion");
    assertEquals(a.choices[0]!.text, b.choices[0]!.text);
    const stream = await client.completions.create({
      model: MODEL,
      prompt: "Once",
      max_tokens: 6,
      seed: 11,
      stream: true,
    });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? "";
    assertEquals(text, a.choices[0]!.text);
  }));

Deno.test("a stop string ends the output before it with finish_reason stop", () =>
  withSim({ timeScale: 50, tokenizer: "approx" }, async (sim, client) => {
    const full = await client.completions.create({
      model: MODEL,
      prompt: "p",
      max_tokens: 8,
      seed: 5,
    });
    const words = full.choices[0]!.text.split(" ");
    const stopped = await client.completions.create({
      model: MODEL,
      prompt: "p",
      max_tokens: 8,
      seed: 5,
      stop: [` ${words[3]}`],
    });
    assertEquals(stopped.choices[0]!.finish_reason, "stop");
    assert(full.choices[0]!.text.startsWith(stopped.choices[0]!.text));
    assertEquals(stopped.choices[0]!.text.includes(` ${words[3]}`), false);
    assertEquals(sim.engine.numRunning, 0);
  }));

Deno.test("bad requests get vLLM-like 400 errors and an unknown model a 404", () =>
  withSim({ timeScale: 50, tokenizer: "approx", maxModelLen: 1000 }, async (sim, client) => {
    const empty = await assertRejects(() =>
      client.chat.completions.create({ model: MODEL, messages: [] })
    );
    assert(empty instanceof OpenAI.BadRequestError);
    const long = await assertRejects(() =>
      client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "z".repeat(8000) }],
      })
    );
    assert(
      long instanceof OpenAI.BadRequestError && long.message.includes("maximum context length"),
    );
    const n = await assertRejects(() =>
      client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "a" }],
        n: 2,
      })
    );
    assert(n instanceof OpenAI.BadRequestError);
    const missing = await assertRejects(() =>
      client.chat.completions.create({ model: "other", messages: [{ role: "user", content: "a" }] })
    );
    assert(missing instanceof OpenAI.NotFoundError);
    const raw = await fetch(`${sim.url}/v1/completions`, { method: "POST", body: "{not json" });
    assertEquals(raw.status, 400);
    assertEquals((await raw.json()).error.type, "BadRequestError");
  }));

Deno.test("models, health and embeddings answer like vLLM", () =>
  withSim({ timeScale: 50, tokenizer: "approx", model: "m1" }, async (sim, client) => {
    const models = await client.models.list();
    assertEquals(models.data.map((m) => m.id), ["m1"]);
    const health = await fetch(`${sim.url}/health`);
    await health.body?.cancel();
    assertEquals(health.status, 200);
    const emb = await client.embeddings.create({ model: "m1", input: ["a b c", "d"] });
    assertEquals(emb.data.length, 2);
    assertEquals(emb.data[0]!.embedding.length, 4096);
    assertGreater(emb.usage.prompt_tokens, 1);
  }));

Deno.test("a client that disconnects mid-stream frees its slot at once", () =>
  withSim({ timeScale: 1, tokenizer: "approx" }, async (sim) => {
    const controller = new AbortController();
    const response = await longChatStream(sim.url, controller.signal);
    const reader = response.body!.getReader();
    await reader.read();
    assertEquals(sim.engine.numRunning, 1);
    controller.abort();
    await reader.cancel().catch(() => {});
    await waitFor("the engine lets the request go", () => sim.engine.numRunning === 0);
    assertEquals(sim.engine.numRunning, 0);
    assertEquals(sim.engine.kv.usedBlocks, 0);
    assertEquals(sim.engine.metrics.finished.abort, 1);
  }));

Deno.test("a client that disconnects from a non-streaming request frees its slot", () =>
  withSim({ timeScale: 1, tokenizer: "approx" }, async (sim) => {
    const controller = new AbortController();
    const pending = fetch(`${sim.url}/v1/completions`, {
      method: "POST",
      signal: controller.signal,
      body: JSON.stringify({ model: MODEL, max_tokens: 5000, prompt: "go" }),
    }).catch((e) => e);
    await waitFor("the request runs", () => sim.engine.numRunning === 1);
    assertEquals(sim.engine.numRunning, 1);
    controller.abort();
    await pending;
    await waitFor("the engine lets the request go", () => sim.engine.numRunning === 0);
    assertEquals(sim.engine.numRunning, 0);
  }));

Deno.test("a response that ended, answered whole, streamed, stopped or abandoned, stays open nowhere", () =>
  withSim({ timeScale: 100, tokenizer: "approx" }, async (sim, client) => {
    await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 3,
    });
    await client.completions.create({ model: MODEL, prompt: "hi", max_tokens: 3 });
    await client.completions.create({ model: MODEL, prompt: "hi", max_tokens: 20, stop: ["e"] });
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 3,
      stream: true,
    });
    for await (const _ of stream) { /* read to the end */ }
    const controller = new AbortController();
    const abandoned = fetch(`${sim.url}/v1/completions`, {
      method: "POST",
      signal: controller.signal,
      body: JSON.stringify({ model: MODEL, max_tokens: 5000, prompt: "go" }),
    }).catch((e) => e);
    await waitFor("the request runs", () => sim.engine.numRunning === 1);
    assertEquals(sim.openResponses, 1);
    controller.abort();
    await abandoned;
    await waitFor("the engine lets the request go", () => sim.engine.numRunning === 0);
    assertEquals(sim.openResponses, 0);
  }));

Deno.test("close() ends streams in flight without [DONE]", async () => {
  const sim = await startSimulator({ timeScale: 1, tokenizer: "approx" });
  const response = await longChatStream(sim.url);
  const reader = response.body!.getReader();
  await reader.read();
  await sim.close();
  let rest = "";
  try {
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      rest += new TextDecoder().decode(r.value);
    }
  } catch {
    // A cut connection is an acceptable ending too.
  }
  assertEquals(rest.includes("[DONE]"), false);
});

Deno.test("without max_tokens the output ends on its own with finish_reason stop", () =>
  withSim({ timeScale: 100, tokenizer: "approx" }, async (sim, client) => {
    const reply = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "tell me" }],
      seed: 1,
    });
    assertEquals(reply.choices[0]!.finish_reason, "stop");
    const n = reply.usage!.completion_tokens;
    assert(n >= 16 && n <= 271, `completion tokens ${n}`);
    assertEquals(sim.engine.metrics.finished.stop, 1);
  }));

for (const mode of ["exact", "approx"] as const) {
  Deno.test(`a multi-turn chat (${mode} tokens) hits the cache on the previous answer's blocks`, () =>
    withSim({ timeScale: 100, tokenizer: mode }, async (_sim, client) => {
      const messages: OpenAI.ChatCompletionMessageParam[] = [
        { role: "system", content: "You are a careful planner." },
        { role: "user", content: "List the steps of the plan. ".repeat(100) },
      ];
      // Turn 2 streams: its answer is rebuilt from the deltas, as a streaming client does.
      const maxTokens = [1100, 700, 1];
      const cached: number[] = [];
      const expected = [0];
      const prompts: number[] = [];
      for (const [turn, max_tokens] of maxTokens.entries()) {
        let answer = "";
        let usage: OpenAI.CompletionUsage | undefined;
        if (turn !== 1) {
          const reply = await client.chat.completions.create({
            model: MODEL,
            messages,
            max_tokens,
          });
          answer = reply.choices[0]!.message.content!;
          usage = reply.usage;
        } else {
          const stream = await client.chat.completions.create({
            model: MODEL,
            messages,
            max_tokens,
            stream: true,
            stream_options: { include_usage: true },
          });
          for await (const chunk of stream) {
            answer += chunk.choices[0]?.delta.content ?? "";
            usage = chunk.usage ?? usage;
          }
        }
        cached.push(usage!.prompt_tokens_details!.cached_tokens!);
        prompts.push(usage!.prompt_tokens);
        // Every block the turn computed (its last generated token's excepted) serves the next.
        expected.push(Math.floor((usage!.prompt_tokens + max_tokens - 1) / 512) * 512);
        messages.push({ role: "assistant", content: answer });
        messages.push({ role: "user", content: "Go on." });
      }
      assertEquals(cached, expected.slice(0, 3));
      // Past each previous prompt: the hits cover blocks of the answers.
      assertGreater(cached[1]!, prompts[0]!);
      assertGreater(cached[2]!, prompts[1]!);
    }));
}

Deno.test("a priority other than 0 is refused with vLLM's 400 unless the replica runs --scheduling-policy priority", async () => {
  const body = (priority: number) =>
    JSON.stringify({ model: MODEL, prompt: "hi", max_tokens: 1, priority });
  await withSim({ tokenizer: "approx", timeScale: 50 }, async (sim) => {
    const refused = await fetch(`${sim.url}/v1/completions`, { method: "POST", body: body(1) });
    assertEquals(refused.status, 400);
    const error = await refused.json();
    assertEquals(
      JSON.stringify(error).includes("Got priority 1 but Priority scheduling is not enabled."),
      true,
    );
    const zero = await fetch(`${sim.url}/v1/completions`, { method: "POST", body: body(0) });
    assertEquals(zero.status, 200);
    await zero.body?.cancel();
  });
  await withSim(
    { tokenizer: "approx", timeScale: 50, schedulingPolicy: "priority" },
    async (sim) => {
      const served = await fetch(`${sim.url}/v1/completions`, { method: "POST", body: body(2) });
      assertEquals(served.status, 200);
      await served.body?.cancel();
    },
  );
});

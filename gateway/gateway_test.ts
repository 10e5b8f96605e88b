import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import OpenAI from "openai";
import { chat, MODEL, startEchoUpstream, startRig, waitFor } from "./testing.ts";

Deno.test("a chat completion goes through the gateway with its headers and is recorded", async () => {
  const rig = await startRig();
  try {
    const { data, response } = await rig.client.chat.completions
      .create(chat("Hello there"), {
        headers: {
          "X-Request-ID": "req-123",
          "X-Session-ID": "s-1",
          "X-Task-ID": "t-9",
          "X-Timing-Pre-Ms": "12.5",
        },
      })
      .withResponse();
    assertEquals(data.object, "chat.completion");
    assert((data.choices[0]?.message.content ?? "").length > 0);
    assertEquals(response.headers.get("x-request-id"), "req-123");
    const backend = response.headers.get("x-turnpike-backend");
    assert(
      rig.sims.some((s) => s.url.endsWith(backend ?? "none")),
      `unexpected backend ${backend}`,
    );
    assert(
      /gateway;dur=[\d.]+, upstream;dur=[\d.]+/.test(response.headers.get("server-timing") ?? ""),
    );
    const stats = await (await fetch(`${rig.gateway.url}/api/stats?session=s-1`)).json();
    const record = stats.recent[0];
    assertEquals([
      record.requestId,
      record.sessionId,
      record.taskId,
      record.clientPreMs,
      record.status,
    ], ["req-123", "s-1", "t-9", 12.5, 200]);
    // A whole JSON answer has no time to first token of its own: only its upstream time is kept.
    assertEquals(record.upstreamTtftMs, undefined);
    assertEquals([record.promptTokens, record.completionTokens, record.usageSource], [
      data.usage?.prompt_tokens,
      data.usage?.completion_tokens,
      "reported",
    ]);
    assert(
      record.upstreamMs > 0 && record.totalMs >= record.upstreamMs && record.gatewayMs >= 0,
    );
    // The backend learns a latency from it, not a time to first token.
    await waitFor(
      "the backend's latency sample",
      () => rig.gateway.fleet.report(MODEL, backend ?? "")?.ewmaLatencyMs !== undefined,
    );
    assertEquals(rig.gateway.fleet.report(MODEL, backend ?? "")?.ewmaTtftMs, undefined);
  } finally {
    await rig.close();
  }
});

Deno.test("a streamed chat completion arrives chunk by chunk with a generated request id", async () => {
  const rig = await startRig();
  try {
    const { data: stream, response } = await rig.client.chat.completions
      .create({
        ...chat("Stream to me", { max_tokens: 12 }),
        stream: true,
        stream_options: { include_usage: true },
      })
      .withResponse();
    assert((response.headers.get("x-request-id") ?? "").length >= 16);
    assertEquals(response.headers.get("content-type")?.startsWith("text/event-stream"), true);
    let chunks = 0;
    let text = "";
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? "";
      usage = chunk.usage ?? usage;
    }
    assert(chunks > 3, `only ${chunks} chunks`);
    assert(text.length > 0);
    assertEquals(usage?.completion_tokens, 12);
    await waitFor("the stream's record", () => rig.gateway.records.recent().length === 1);
    const record = rig.gateway.records.recent()[0];
    assertEquals([record?.stream, record?.completionTokens, record?.usageSource], [
      true,
      12,
      "reported",
    ]);
    assert(
      (record?.upstreamTtftMs ?? 0) > 0 && (record?.upstreamMs ?? 0) >= record!.upstreamTtftMs!,
    );
  } finally {
    await rig.close();
  }
});

Deno.test("completions, embeddings and the model list work through the gateway", async () => {
  const rig = await startRig();
  try {
    const completion = await rig.client.completions.create({
      model: MODEL,
      prompt: "Once upon a time",
      max_tokens: 5,
    });
    assertEquals(completion.object, "text_completion");
    assert((completion.choices[0]?.text ?? "").length > 0);
    const streamed = await rig.client.completions.create({
      model: MODEL,
      prompt: "Count:",
      max_tokens: 4,
      stream: true,
    });
    let pieces = 0;
    for await (const _ of streamed) pieces++;
    assert(pieces >= 2);
    const embedding = await rig.client.embeddings.create({ model: MODEL, input: ["a", "b"] });
    assertEquals(embedding.data.length, 2);
    const models = await rig.client.models.list();
    const listed = models.data.find((m) => m.id === MODEL) as unknown as {
      turnpike: { healthy: number; backends: number };
    };
    assertEquals([listed.turnpike.backends, listed.turnpike.healthy], [2, 2]);
    const health = await (await fetch(`${rig.gateway.url}/health`)).json();
    assertEquals(health.status, "ok");
  } finally {
    await rig.close();
  }
});

Deno.test("unknown request fields and the request id reach the upstream untouched", async () => {
  const echo = await startEchoUpstream();
  const rig = await startRig({ replicas: 0, models: [{ name: "echo", endpoints: [echo.url] }] });
  try {
    const body =
      '{"model":"echo","messages":[{"role":"user","content":"x"}],"vendor_knob":{"a":[1,2]},"top_k":7}';
    const res = await fetch(`${rig.gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "abc", "x-session-id": "s" },
      body,
    });
    assertEquals(res.status, 200);
    assertEquals(await res.text(), body);
    assertEquals(echo.seen[0]?.body, body);
    assertEquals(echo.seen[0]?.headers["x-request-id"], "abc");
    assertEquals(echo.seen[0]?.headers["x-session-id"], "s");
    assertEquals(res.headers.get("x-upstream"), "echo");
  } finally {
    await rig.close();
    await echo.close();
  }
});

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import OpenAI from "openai";
import { MODEL, startRig } from "../../gateway/testing.ts";

async function post(url: string, body: unknown): Promise<Response> {
  return await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

Deno.test("a session keeps its history: each turn sends only the new message", async () => {
  const rig = await startRig();
  try {
    const created = await post(`${rig.gateway.url}/v1/sessions`, {
      model: MODEL,
      system: "You are terse.",
      metadata: { team: "a" },
    });
    assertEquals(created.status, 201);
    const session = await created.json();
    assert(/^sess_[0-9a-z]{24}$/.test(session.id), session.id);
    const client = new OpenAI({
      baseURL: `${rig.gateway.url}/v1/sessions/${session.id}`,
      apiKey: "x",
      maxRetries: 0,
    });
    const first = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "first question" }],
      max_tokens: 5,
    });
    assertEquals(first.choices[0]!.finish_reason, "length");
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "second question" }],
      max_tokens: 5,
      stream: true,
    });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    assert(text.length > 0);
    const history =
      await (await fetch(`${rig.gateway.url}/v1/sessions/${session.id}/history?include=sent`))
        .json();
    assertEquals(history.data.length, 2);
    assertEquals(history.data[1].output[0].content, text);
    const sent = history.data[1].sent.prompt.map((m: { role: string }) => m.role);
    assertEquals(sent, ["system", "user", "assistant", "user"]);
    const got = await (await fetch(`${rig.gateway.url}/v1/sessions/${session.id}`)).json();
    assertEquals(got.turns, 2);
    assert(got.usage.prompt_tokens > 0);
  } finally {
    await rig.close();
  }
});

Deno.test("a replica's stream cut mid-reply ends the turn with turn_not_saved and appends nothing", async () => {
  const rig = await startRig({ replicas: 1 });
  try {
    const session = await (await post(`${rig.gateway.url}/v1/sessions`, { model: MODEL })).json();
    rig.sims[0]!.faults.apply({ cut_rate: 1, cut_after_tokens: 2 });
    const cut = await post(`${rig.gateway.url}/v1/sessions/${session.id}/chat`, {
      message: "hi",
      stream: true,
      max_tokens: 20,
    });
    assertEquals(cut.status, 200);
    const events = (await cut.text()).trim().split("\n\n");
    const last = JSON.parse(events.at(-1)!.slice("data: ".length));
    assertEquals(last.error.code, "turn_not_saved");
    assert(!events.includes("data: [DONE]"));
    rig.sims[0]!.faults.apply({ cut_rate: 0 });
    const again = await post(`${rig.gateway.url}/v1/sessions/${session.id}/chat`, {
      message: "hi again",
      max_tokens: 3,
    });
    assertEquals(again.status, 200);
    await again.body?.cancel();
    const history = await (await fetch(`${rig.gateway.url}/v1/sessions/${session.id}/history`))
      .json();
    assertEquals(history.data.map((t: { input: { content: string }[] }) => t.input[0]!.content), [
      "hi again",
    ]);
  } finally {
    await rig.close();
  }
});

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import OpenAI from "openai";
import type { ChatCompletionMessageParam } from "openai/resources/chat/completions";
import { MODEL, startRig, type TestRig } from "../../gateway/testing.ts";
import { jsonTap, streamTap } from "./plain.ts";

interface HistoryTurn {
  turn: number;
  input: { role: string; content: unknown }[];
  output: { role: string; content: string | null }[];
}

async function historyOf(rig: TestRig, id: string, turns: number): Promise<HistoryTurn[]> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const res = await fetch(`${rig.gateway.url}/v1/sessions/${id}/history`);
    const body = await res.json();
    if (res.status === 200 && body.data.length >= turns) return body.data;
    if (Date.now() > deadline) {
      throw new Error(`session ${id} holds ${JSON.stringify(body)}, not ${turns} turns`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("plain chat calls with the session header are recorded into that session, in order", async () => {
  const rig = await startRig();
  try {
    const id = `agent-${crypto.randomUUID()}`;
    const client = new OpenAI({
      baseURL: `${rig.gateway.url}/v1`,
      apiKey: "x",
      maxRetries: 0,
      defaultHeaders: { "X-Session-ID": id, "X-Task-ID": "task-7" },
    });
    const messages: ChatCompletionMessageParam[] = [{ role: "system", content: "Be brief." }];
    const replies: string[] = [];
    for (let turn = 1; turn <= 4; turn++) {
      messages.push({ role: "user", content: `question ${turn}` });
      let text = "";
      if (turn % 2 === 0) {
        const stream = await client.chat.completions.create({
          model: MODEL,
          messages,
          max_tokens: 6,
          stream: true,
        });
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
      } else {
        const answer = await client.chat.completions.create({
          model: MODEL,
          messages,
          max_tokens: 6,
        });
        text = answer.choices[0]!.message.content ?? "";
      }
      assert(text.length > 0);
      replies.push(text);
      messages.push({ role: "assistant", content: text });
      // The client sees nothing of the recording: it goes on at once, as an agent does.
    }
    const history = await historyOf(rig, id, 4);
    assertEquals(history.map((t) => t.turn), [1, 2, 3, 4]);
    // The first call's whole prompt is its input; later ones add only what is new.
    assertEquals(history[0]!.input.map((m) => m.role), ["system", "user"]);
    for (const [i, turn] of history.entries()) {
      if (i > 0) assertEquals(turn.input, [{ role: "user", content: `question ${i + 1}` }]);
      assertEquals(turn.output[0]!.content, replies[i]);
    }
    const head = await (await fetch(`${rig.gateway.url}/v1/sessions/${id}`)).json();
    assertEquals(head.turns, 4);
    assertEquals(head.task_id, "task-7");
    assert(head.usage.completion_tokens > 0, JSON.stringify(head.usage));

    // The session now takes turns of its own, continuing the recorded conversation.
    const sessionClient = new OpenAI({
      baseURL: `${rig.gateway.url}/v1/sessions/${id}`,
      apiKey: "x",
      maxRetries: 0,
    });
    await sessionClient.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "question 5" }],
      max_tokens: 3,
    });
    const sent = await (await fetch(`${rig.gateway.url}/v1/sessions/${id}/history?include=sent`))
      .json();
    const prompt = sent.data[4].sent.prompt as { role: string; content: string }[];
    assertEquals(prompt.length, 10);
    assertEquals(prompt[0], { role: "system", content: "Be brief." });
    assertEquals(prompt[8]!.content, replies[3]);
    assertEquals(prompt[9], { role: "user", content: "question 5" });
  } finally {
    await rig.close();
  }
});

Deno.test("a plain call without the session header, or one that failed, records nothing", async () => {
  const rig = await startRig();
  try {
    const plain = await rig.client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "hello" }],
      max_tokens: 2,
    });
    assert(plain.choices.length === 1);
    const id = `agent-${crypto.randomUUID()}`;
    const bad = await fetch(`${rig.gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-session-id": id },
      body: JSON.stringify({ model: "no-such-model", messages: [{ role: "user", content: "x" }] }),
    });
    assertEquals(bad.status, 404);
    await bad.body?.cancel();
    await new Promise((r) => setTimeout(r, 200));
    const listed = await (await fetch(`${rig.gateway.url}/v1/sessions`)).json();
    assertEquals(listed.data, []);
    assertEquals((await fetch(`${rig.gateway.url}/v1/sessions/${id}`)).status, 404);
  } finally {
    await rig.close();
  }
});

Deno.test("a plain call whose stream the replica broke off is not recorded; the next whole one is", async () => {
  const rig = await startRig({ replicas: 1 });
  try {
    const id = `agent-${crypto.randomUUID()}`;
    const send = async () => {
      const res = await fetch(`${rig.gateway.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-session-id": id },
        body: JSON.stringify({
          model: MODEL,
          messages: [{ role: "user", content: "tell me" }],
          max_tokens: 8,
          stream: true,
        }),
      });
      assertEquals(res.status, 200);
      return await res.text();
    };
    rig.sims[0]!.faults.apply({ cut_rate: 1, cut_after_tokens: 2 });
    const broken = await send();
    assert(broken.includes('"error"') && broken.endsWith("data: [DONE]\n\n"), broken);
    rig.sims[0]!.faults.apply({ cut_rate: 0 });
    const whole = await send();
    const text = whole.split("\n\n").filter((e) => e.startsWith("data: {")).map((e) =>
      JSON.parse(e.slice(6)).choices[0]?.delta?.content ?? ""
    ).join("");
    assert(text.length > 0);
    // Recorded in the order the answers ended: the whole one is the session's first turn.
    const history = await historyOf(rig, id, 1);
    assertEquals(history.map((t) => [t.turn, t.output[0]!.content]), [[1, text]]);
  } finally {
    await rig.close();
  }
});

Deno.test("the stream tap rebuilds an answer split anywhere across chunks, and refuses a broken one", () => {
  const enc = new TextEncoder();
  const event = (delta: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    `data: ${
      JSON.stringify({ id: "c1", model: "m", choices: [{ index: 0, delta }], ...extra })
    }\n\n`;
  const text = event({ role: "assistant" }) + event({ content: "Hel" }) + event({ content: "lo" }) +
    `data: ${
      JSON.stringify({
        id: "c1",
        choices: [{ index: 0, delta: {}, finish_reason: "stop" }],
        usage: { prompt_tokens: 5, completion_tokens: 2 },
      })
    }\n\n` + "data: [DONE]\n\n";
  const bytes = enc.encode(text);
  for (const cut of [1, 7, 40, 97, bytes.length - 3]) {
    const tap = streamTap();
    tap.take(bytes.slice(0, cut));
    tap.take(bytes.slice(cut));
    const answer = tap.end();
    assert(answer !== undefined, `cut at ${cut}`);
    assertEquals(answer.error, undefined);
    assertEquals(answer.message(true)?.content, "Hello");
    assertEquals([answer.finishReason, answer.usage.prompt_tokens], ["stop", 5]);
  }
  // No [DONE]: the stream broke off, nothing is recorded.
  const cutOff = streamTap();
  cutOff.take(enc.encode(event({ content: "Hel" })));
  assertEquals(cutOff.end(), undefined);
  // An event that is not JSON marks the answer unreadable.
  const broken = streamTap();
  broken.take(enc.encode(event({ content: "a" }) + "data: {oops\n\n" + "data: [DONE]\n\n"));
  assert(broken.end()?.error !== undefined);
  // Past the bound the answer is relayed but not kept.
  const huge = jsonTap();
  huge.take(new Uint8Array(9 << 20));
  assertEquals(huge.end(), undefined);
});

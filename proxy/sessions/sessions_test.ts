import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import OpenAI from "openai";
import { startGateway } from "../../gateway/gateway.ts";
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

Deno.test("a system prompt up to 48 KiB is kept; a longer one is a 400 naming system", async () => {
  const rig = await startRig({ replicas: 1 });
  try {
    const kept = await post(`${rig.gateway.url}/v1/sessions`, {
      model: MODEL,
      system: "é".repeat(24 * 1024),
    });
    assertEquals(kept.status, 201);
    const session = await kept.json();
    assertEquals(session.system.length, 24 * 1024);
    const long = await post(`${rig.gateway.url}/v1/sessions`, {
      model: MODEL,
      system: "é".repeat(24 * 1024 + 1),
    });
    assertEquals(long.status, 400);
    const body = await long.json();
    assertEquals(body.error.param, "system");
    assert(body.error.message.includes("48 KiB"), body.error.message);
  } finally {
    await rig.close();
  }
});

Deno.test("a session's turns stay on the replica that served it, which the session remembers", async () => {
  const rig = await startRig({ replicas: 2 });
  try {
    const session = await (await post(`${rig.gateway.url}/v1/sessions`, { model: MODEL })).json();
    const served: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await post(`${rig.gateway.url}/v1/sessions/${session.id}/chat`, {
        message: `short turn ${i}`,
        max_tokens: 3,
      });
      assertEquals(res.status, 200);
      await res.body?.cancel();
      served.push(res.headers.get("x-turnpike-backend")!);
    }
    assertEquals(new Set(served).size, 1, served.join(", "));
    const history = await (await fetch(`${rig.gateway.url}/v1/sessions/${session.id}/history`))
      .json();
    assertEquals(history.data.map((t: { backend: string }) => t.backend), served);
  } finally {
    await rig.close();
  }
});

Deno.test("an archived session lists as expired, and its turns and socket get 410", async () => {
  const rig = await startRig({ replicas: 1, sessions: { on_expire: "archive" } });
  try {
    const session = await (await post(`${rig.gateway.url}/v1/sessions`, {
      model: MODEL,
      ttl_seconds: 0.3,
    })).json();
    await new Promise((r) => setTimeout(r, 500));
    const listed = await (await fetch(`${rig.gateway.url}/v1/sessions`)).json();
    assertEquals(listed.data.map((s: { state: string }) => s.state), ["expired"]);
    const active = await (await fetch(`${rig.gateway.url}/v1/sessions?state=active`)).json();
    assertEquals(active.data, []);
    const turn = await post(`${rig.gateway.url}/v1/sessions/${session.id}/chat`, { message: "hi" });
    assertEquals(turn.status, 410);
    assertEquals((await turn.json()).error.code, "session_expired");
    const socket = await fetch(`${rig.gateway.url}/v1/sessions/${session.id}/ws`);
    assertEquals(socket.status, 410);
    await socket.body?.cancel();
    assertEquals((await fetch(`${rig.gateway.url}/v1/sessions/${session.id}/history`)).status, 200);
  } finally {
    await rig.close();
  }
});

Deno.test("an extend while a turn runs keeps both: the turn commits and the new expiry holds", async () => {
  const rig = await startRig({ replicas: 1, sim: { timeScale: 1 } });
  try {
    const session = await (await post(`${rig.gateway.url}/v1/sessions`, {
      model: MODEL,
      ttl_seconds: 600,
    })).json();
    const running = post(`${rig.gateway.url}/v1/sessions/${session.id}/chat`, {
      message: "tell me a story",
      max_tokens: 60,
    });
    for (;;) {
      const view = await (await fetch(`${rig.gateway.url}/v1/sessions/${session.id}`)).json();
      if (view.turn_in_flight === 1) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const extended = await post(`${rig.gateway.url}/v1/sessions/${session.id}/extend`, {
      ttl_seconds: 7200,
    });
    assertEquals(extended.status, 200);
    const expiresAt = (await extended.json()).expires_at;
    const answer = await running;
    assertEquals(answer.status, 200);
    assertEquals((await answer.json()).choices[0].finish_reason, "length");
    const view = await (await fetch(`${rig.gateway.url}/v1/sessions/${session.id}`)).json();
    assertEquals([view.turns, view.turn_in_flight, view.expires_at], [1, null, expiresAt]);
  } finally {
    await rig.close();
  }
});

Deno.test("64 concurrent extends of one session all succeed, none answers 503", async () => {
  const rig = await startRig({ replicas: 1 });
  try {
    const session = await (await post(`${rig.gateway.url}/v1/sessions`, { model: MODEL })).json();
    const url = `${rig.gateway.url}/v1/sessions/${session.id}`;
    const answers = await Promise.all(Array.from({ length: 64 }, async (_, i) => {
      const r = await post(`${url}/extend`, { ttl_seconds: 60 + i });
      return `${r.status} ${(await r.text()).slice(0, 120)}`;
    }));
    assertEquals(answers.filter((a) => !a.startsWith("200")), []);
    const view = await (await fetch(url)).json();
    assert(view.ttl_seconds >= 60 && view.ttl_seconds < 124, `ttl ${view.ttl_seconds}`);
  } finally {
    await rig.close();
  }
});

Deno.test("a gateway alone again after another took turns builds on those turns", async () => {
  const rig = await startRig({ replicas: 1 });
  try {
    const a = rig.gateway.url;
    const session = await (await post(`${a}/v1/sessions`, { model: MODEL })).json();
    const turn = async (url: string, message: string) => {
      const res = await post(`${url}/v1/sessions/${session.id}/chat`, { message, max_tokens: 3 });
      assertEquals(res.status, 200, await res.clone().text());
      await res.body?.cancel();
    };
    await turn(a, "on A, alone");
    // B shares the KV file: it waits until A has seen its heartbeat, and takes a turn.
    const b = await startGateway(rig.config, { port: 0, hostname: "127.0.0.1" });
    try {
      await turn(b.url, "on B");
    } finally {
      await b.close({ deadlineMs: 2_000 });
    }
    // Once A is alone again (its next heartbeat), its turns read B's, not what A cached before.
    await new Promise((r) => setTimeout(r, 2_500));
    await turn(a, "on A again");
    const history = await (await fetch(`${a}/v1/sessions/${session.id}/history?include=sent`))
      .json();
    const inputs = history.data.map((t: { input: { content: string }[] }) => t.input[0]!.content);
    assertEquals(inputs, ["on A, alone", "on B", "on A again"]);
    const prompt = history.data[2].sent.prompt.map((m: { content: string }) => m.content);
    assertEquals(prompt.filter((c: string) => c.startsWith("on ")), inputs);
  } finally {
    await rig.close();
  }
});

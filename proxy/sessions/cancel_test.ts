import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { MODEL, startRig, waitFor } from "../../gateway/testing.ts";
import {
  call,
  createSession,
  firstText,
  fullHistory,
  getSession,
  sessionClient,
  simRunning,
  TestSocket,
  textOf,
} from "./_testing.ts";

Deno.test("a cancel mid-stream aborts the replica's request and keeps the partial reply", async () => {
  const rig = await startRig({ replicas: 1, sim: { timeScale: 1 } });
  try {
    const sim = rig.sims[0]!.url;
    const id = await createSession(rig);
    const stream = await sessionClient(rig, id).chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "write a long story" }],
      max_tokens: 2000,
      stream: true,
    });
    let text = "";
    let deltas = 0;
    let finish: string | null = null;
    let cancelled: Record<string, unknown> | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      if (chunk.choices[0]?.delta?.content) deltas++;
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (text.length > 0 && cancelled === undefined) {
        assertEquals(await simRunning(sim), 1);
        const res = await call(rig, "POST", `/v1/sessions/${id}/cancel`);
        cancelled = await res.json();
        assertEquals(res.status, 200);
      }
    }
    assertEquals(cancelled, { id, object: "session.cancel", turn: 1, cancelled: true });
    assertEquals(finish, "cancelled");
    await waitFor("the replica to stop the request", async () => (await simRunning(sim)) === 0, {
      timeoutMs: 3_000,
    });
    const { turns } = await fullHistory(rig, id);
    assertEquals(turns.map((t) => [t.turn, t.status, t.finish_reason]), [[
      1,
      "cancelled",
      "cancelled",
    ]]);
    assertEquals(turns[0]!.output, [{ role: "assistant", content: text }]);
    assert(text.split(" ").length < 2000);
    const head = await getSession(rig, id);
    assertEquals([head.turn_in_flight, head.turns], [null, 1]);
    // No usage chunk came, yet the replica read the prompt and wrote the partial reply: both count.
    assertEquals(turns[0]!.usage.prompt_tokens, turns[0]!.sent.prompt_tokens);
    assertEquals(turns[0]!.usage.completion_tokens, deltas);
    assertEquals(head.usage.total_tokens, turns[0]!.sent.prompt_tokens + deltas);
    // Nothing runs now: a second cancel says so, and the next turn goes on from the partial reply.
    const again = await (await call(rig, "POST", `/v1/sessions/${id}/cancel`)).json();
    assertEquals(again.cancelled, false);
    const next = await sessionClient(rig, id).chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "shorter please" }],
      max_tokens: 3,
    });
    assertEquals(next.choices[0]!.finish_reason, "length");
    const after = await fullHistory(rig, id);
    assertEquals(after.turns[1]!.sent.prompt!.slice(1), [
      { role: "user", content: "write a long story" },
      { role: "assistant", content: text },
      { role: "user", content: "shorter please" },
    ]);
  } finally {
    await rig.close();
  }
});

Deno.test("a cancel of a non-streamed turn answers it with the partial reply, marked cancelled", async () => {
  const rig = await startRig({ replicas: 1, sim: { timeScale: 1 } });
  try {
    const sim = rig.sims[0]!.url;
    const id = await createSession(rig);
    const pending = sessionClient(rig, id).chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "write a long story" }],
      max_tokens: 2000,
    });
    await waitFor("the replica to run the turn", async () => (await simRunning(sim)) === 1, {
      timeoutMs: 5_000,
    });
    await new Promise((r) => setTimeout(r, 300));
    assertEquals((await call(rig, "POST", `/v1/sessions/${id}/cancel`)).status, 200);
    const answer = await pending;
    assertEquals(answer.choices[0]!.finish_reason, "cancelled");
    const partial = answer.choices[0]!.message.content ?? "";
    assert(partial.length > 0);
    await waitFor("the replica to stop the request", async () => (await simRunning(sim)) === 0, {
      timeoutMs: 3_000,
    });
    const { turns } = await fullHistory(rig, id);
    assertEquals(turns.map((t) => [t.status, t.output]), [[
      "cancelled",
      [{ role: "assistant", content: partial }],
    ]]);
  } finally {
    await rig.close();
  }
});

Deno.test("a cancel frame stops the replica's request and the history marks the turn cancelled", async () => {
  const rig = await startRig({ replicas: 1, sim: { timeScale: 1 } });
  let socket: TestSocket | undefined;
  try {
    const sim = rig.sims[0]!.url;
    const id = await createSession(rig);
    socket = await TestSocket.open(rig, id);
    socket.send({ type: "turn", id: "long", message: "write a long story", max_tokens: 2000 });
    const before = await firstText(socket);
    assertEquals(await simRunning(sim), 1);
    socket.send({ type: "cancel" });
    const seen = [...before, ...await socket.until("turn.cancelled", "turn.completed", "error")];
    const end = seen.at(-1)!;
    assertEquals([end.type, end.turn, end.id], ["turn.cancelled", 1, "long"]);
    await waitFor("the replica to stop the request", async () => (await simRunning(sim)) === 0, {
      timeoutMs: 3_000,
    });
    const { turns } = await fullHistory(rig, id);
    assertEquals(turns.map((t) => [t.status, t.output]), [[
      "cancelled",
      [{ role: "assistant", content: textOf(seen) }],
    ]]);
  } finally {
    await socket?.close();
    await rig.close();
  }
});

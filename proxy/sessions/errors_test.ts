import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { MODEL, startRig, type TestRig, waitFor } from "../../gateway/testing.ts";
import {
  assertError,
  call,
  createSession,
  fullHistory,
  getSession,
  sessionClient,
  simRunning,
  TestSocket,
  TOOLS,
} from "./_testing.ts";

/** Every route of a session, as [method, path after the id, body]. */
const ROUTES: [string, string, unknown][] = [
  ["GET", "", undefined],
  ["DELETE", "", undefined],
  ["POST", "/extend", {}],
  ["GET", "/history", undefined],
  ["GET", "/history?include=sent", undefined],
  ["POST", "/chat", { messages: [{ role: "user", content: "hi" }] }],
  ["POST", "/chat/completions", { model: MODEL, messages: [{ role: "user", content: "hi" }] }],
  ["POST", "/cancel", undefined],
  ["GET", "/ws", undefined],
];

async function turn(rig: TestRig, id: string, body: unknown): Promise<Response> {
  return await call(rig, "POST", `/v1/sessions/${id}/chat`, body);
}

Deno.test("a bad or unknown session id is an OpenAI-shaped 404 on every route", async () => {
  const rig = await startRig({ replicas: 1 });
  try {
    const ids = [
      `sess_${"0".repeat(24)}`,
      "x".repeat(129),
      "a".repeat(5000),
      "bad$id",
      "bad%20id",
      "%F0%9F%98%80",
      "%E0%A4%A",
      "a%2Fb",
      "null",
    ];
    for (const id of ids) {
      for (const [method, rest, body] of ROUTES) {
        const res = await call(rig, method, `/v1/sessions/${id}${rest}`, body);
        const error = await assertError(res, 404, "session_not_found", "session_id");
        assert(error.message.includes("POST /v1/sessions"), error.message);
      }
    }
    // A deleted session is unknown from then on.
    const id = await createSession(rig);
    assertEquals((await call(rig, "DELETE", `/v1/sessions/${id}`)).status, 200);
    for (const [method, rest, body] of ROUTES) {
      await assertError(
        await call(rig, method, `/v1/sessions/${id}${rest}`, body),
        404,
        "session_not_found",
        "session_id",
      );
    }
  } finally {
    await rig.close();
  }
});

Deno.test("bad request bodies and queries are 400s naming the field at fault", async () => {
  const rig = await startRig({ replicas: 1 });
  try {
    const create = (body: unknown) => call(rig, "POST", "/v1/sessions", body);
    await assertError(await create("{not json"), 400, "invalid_json", null);
    await assertError(await create({}), 400, "invalid_request", "model");
    await assertError(await create({ model: 42 }), 400, "invalid_request", "model");
    await assertError(
      await create({ model: MODEL, colour: "red" }),
      400,
      "invalid_request",
      "colour",
    );
    await assertError(
      await create({ model: MODEL, limits: { max_tokenz: 5 } }),
      400,
      "invalid_request",
      "limits.max_tokenz",
    );
    await assertError(
      await create({ model: MODEL, limits: { max_tokens: -5 } }),
      400,
      "invalid_request",
      "limits.max_tokens",
    );
    await assertError(
      await create({ model: MODEL, compression: { method: "zip" } }),
      400,
      "invalid_request",
      "compression.method",
    );
    await assertError(
      await create({ model: MODEL, compression: "zip" }),
      400,
      "invalid_request",
      "compression.method",
    );
    await assertError(
      await create({ model: MODEL, compression: { threshold: 0.4, target: 0.6 } }),
      400,
      "invalid_compression",
      "compression.target",
    );
    await assertError(
      await create({ model: MODEL, on_busy: "wait" }),
      400,
      "invalid_request",
      "on_busy",
    );
    await assertError(
      await create({ model: MODEL, ttl_seconds: 1e12 }),
      400,
      "invalid_ttl",
      "ttl_seconds",
    );
    await assertError(await create({ model: "nope" }), 404, "model_not_found", "model");

    const id = await createSession(rig);
    await assertError(await turn(rig, id, "{not json"), 400, "invalid_json", null);
    await assertError(await turn(rig, id, "[]"), 400, "invalid_request", null);
    await assertError(await turn(rig, id, {}), 400, "invalid_request", "messages");
    await assertError(await turn(rig, id, { messages: [] }), 400, "invalid_request", "messages");
    await assertError(await turn(rig, id, { messages: "hi" }), 400, "invalid_request", "messages");
    await assertError(await turn(rig, id, { message: "" }), 400, "invalid_request", "message");
    await assertError(
      await turn(rig, id, { message: "a", messages: [{ role: "user", content: "b" }] }),
      400,
      "invalid_request",
      "messages",
    );
    await assertError(
      await turn(rig, id, { messages: [{ role: "wizard", content: "hi" }] }),
      400,
      "invalid_request",
      "messages.0.role",
    );
    await assertError(
      await turn(rig, id, { messages: [{ role: "user", content: 5 }] }),
      400,
      "invalid_request",
      "messages.0.content",
    );
    await assertError(
      await turn(rig, id, { message: "hi", max_tokens: "5" }),
      400,
      "invalid_request",
      "max_tokens",
    );
    await assertError(
      await turn(rig, id, { message: "hi", stream: "yes" }),
      400,
      "invalid_request",
      "stream",
    );
    const extend = (body: unknown) => call(rig, "POST", `/v1/sessions/${id}/extend`, body);
    await assertError(await extend("{"), 400, "invalid_json", null);
    await assertError(await extend({ ttl_seconds: -1 }), 400, "invalid_request", "ttl_seconds");
    await assertError(await extend({ ttl: 5 }), 400, "invalid_request", "ttl");
    const get = (path: string) => call(rig, "GET", path);
    await assertError(
      await get(`/v1/sessions/${id}/history?limit=0`),
      400,
      "invalid_request",
      "limit",
    );
    await assertError(
      await get(`/v1/sessions/${id}/history?after=x`),
      400,
      "invalid_request",
      "after",
    );
    await assertError(
      await get(`/v1/sessions/${id}/history?include=everything`),
      400,
      "invalid_request",
      "include",
    );
    await assertError(await get("/v1/sessions?state=gone"), 400, "invalid_request", "state");
    await assertError(await get("/v1/sessions?limit=1000"), 400, "invalid_request", "limit");
    // None of it took a turn.
    assertEquals((await getSession(rig, id)).turns, 0);
  } finally {
    await rig.close();
  }
});

Deno.test("a tool result for an unknown call, or a message while calls are open, is a 400 naming the tool_call_id", async () => {
  const rig = await startRig({ replicas: 1 });
  try {
    const id = await createSession(rig);
    const client = sessionClient(rig, id);
    const stray = await turn(rig, id, {
      messages: [{ role: "tool", tool_call_id: "call_nobody_made", content: "42" }],
    });
    const e1 = await assertError(stray, 400, "invalid_tool_pairing", "messages.0.tool_call_id");
    assert(e1.message.includes("call_nobody_made"), e1.message);
    const called = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "read the config" }],
      tools: TOOLS,
      tool_choice: "required",
      parallel_tool_calls: false,
      max_tokens: 64,
    });
    const callId = called.choices[0]!.message.tool_calls![0]!.id;
    assertEquals((await getSession(rig, id)).open_tool_calls, [callId]);
    const early = await turn(rig, id, { message: "never mind" });
    const e2 = await assertError(early, 400, "invalid_tool_pairing", "messages.0.tool_call_id");
    assert(e2.message.includes(callId), e2.message);
    const wrong = await turn(rig, id, {
      messages: [{ role: "tool", tool_call_id: `${callId}x`, content: "42" }],
    });
    const e3 = await assertError(wrong, 400, "invalid_tool_pairing", "messages.0.tool_call_id");
    assert(e3.message.includes(`${callId}x`), e3.message);
    const twice = await turn(rig, id, {
      messages: [
        { role: "tool", tool_call_id: callId, content: "42" },
        { role: "tool", tool_call_id: callId, content: "43" },
      ],
    });
    await assertError(twice, 400, "invalid_tool_pairing", "messages.1.tool_call_id");
    // The refused turns took no number; the answer pairs and runs as turn 2.
    const answered = await turn(rig, id, {
      messages: [{ role: "tool", tool_call_id: callId, content: "42" }],
      tools: TOOLS,
      tool_choice: "none",
      max_tokens: 4,
    });
    assertEquals(answered.status, 200, await answered.clone().text());
    assertEquals(answered.headers.get("x-session-turn"), "2");
    assertEquals((await getSession(rig, id)).open_tool_calls, []);
    const { turns } = await fullHistory(rig, id);
    assertEquals(turns.map((t) => t.turn), [1, 2]);
  } finally {
    await rig.close();
  }
});

Deno.test("a second turn while one runs is a 409 session_busy; turn numbers stay in order", async () => {
  const rig = await startRig({ replicas: 1, sim: { timeScale: 1 } });
  try {
    const id = await createSession(rig);
    const long = sessionClient(rig, id).chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "write a long story" }],
      max_tokens: 2000,
    });
    await waitFor("the turn to run", async () => (await getSession(rig, id)).turn_in_flight === 1, {
      timeoutMs: 5_000,
    });
    const busy = await turn(rig, id, { message: "and another" });
    assertEquals(busy.headers.get("retry-after"), "1");
    const error = await assertError(busy, 409, "session_busy", null);
    assert(error.message.includes("on_busy"), error.message);
    await call(rig, "POST", `/v1/sessions/${id}/cancel`);
    assertEquals((await long).choices[0]!.finish_reason, "cancelled");
    await waitFor("the replica to stop", async () => (await simRunning(rig.sims[0]!.url)) === 0);
    const next = await turn(rig, id, { message: "short", max_tokens: 2 });
    assertEquals([next.status, next.headers.get("x-session-turn")], [200, "2"]);
    await next.body?.cancel();
  } finally {
    await rig.close();
  }
});

Deno.test("with on_busy queue, concurrent turns wait and run one after another", async () => {
  const rig = await startRig({ replicas: 1, sim: { timeScale: 4 } });
  try {
    const id = await createSession(rig, { on_busy: "queue" });
    const client = sessionClient(rig, id);
    const asks = Array.from({ length: 4 }, (_, i) =>
      client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: `question ${i}` }],
        max_tokens: 30,
      }).withResponse());
    const answers = await Promise.all(asks);
    const numbers = answers.map((a) => Number(a.response.headers.get("x-session-turn")));
    assertEquals([...numbers].sort(), [1, 2, 3, 4]);
    const { turns } = await fullHistory(rig, id);
    assertEquals(turns.map((t) => [t.turn, t.status]), [
      [1, "completed"],
      [2, "completed"],
      [3, "completed"],
      [4, "completed"],
    ]);
    // Each queued turn ran after the one before: its prompt holds every earlier turn.
    for (const t of turns) assertEquals(t.sent.prompt!.length, 1 + 2 * (t.turn - 1) + 1);
    for (const [i, a] of answers.entries()) {
      const t = turns[numbers[i]! - 1]!;
      assertEquals(t.input, [{ role: "user", content: `question ${i}` }]);
      assertEquals(t.output[0]!.content, a.data.choices[0]!.message.content);
    }
  } finally {
    await rig.close();
  }
});

Deno.test("a turn refused over the socket is an error frame with its status, code and param", async () => {
  const rig = await startRig({ replicas: 1 });
  let socket: TestSocket | undefined;
  try {
    const id = await createSession(rig);
    socket = await TestSocket.open(rig, id);
    socket.send({
      type: "turn",
      id: "stray",
      messages: [{ role: "tool", tool_call_id: "call_nobody_made", content: "42" }],
    });
    const frame = await socket.next();
    assertEquals(
      [frame.type, frame.id, frame.turn, frame.status, frame.error?.code, frame.error?.param],
      ["error", "stray", null, 400, "invalid_tool_pairing", "messages.0.tool_call_id"],
    );
    assert(frame.error?.message.includes("call_nobody_made"));
    socket.send({ type: "turn", id: "ok", message: "hi", max_tokens: 2 });
    const done = (await socket.until("turn.completed", "error")).at(-1)!;
    assertEquals([done.type, done.turn], ["turn.completed", 1]);
  } finally {
    await socket?.close();
    await rig.close();
  }
});

Deno.test("a replica's refusal of a turn is OpenAI-shaped, and the turn is not kept", async () => {
  const rig = await startRig({ replicas: 1 });
  try {
    const id = await createSession(rig);
    const refused = await turn(rig, id, { message: "hi", n: 3 });
    const error = await assertError(refused, 400, "backend_rejected", null);
    assertEquals(error.type, "invalid_request_error");
    assert(error.message.includes("n"), error.message);
    const ok = await turn(rig, id, { message: "hi", max_tokens: 2 });
    assertEquals([ok.status, ok.headers.get("x-session-turn")], [200, "1"]);
    await ok.body?.cancel();
  } finally {
    await rig.close();
  }
});

Deno.test("a message past any budget is a 400 context_length_exceeded, not a 500", async () => {
  const rig = await startRig({ replicas: 1 });
  try {
    const id = await createSession(rig);
    // One run without spaces: too long to count exactly, far past the model's context.
    const huge = await turn(rig, id, { message: "x".repeat(1_200_000) });
    const error = await assertError(huge, 400, "context_length_exceeded", "messages");
    assert(error.message.includes("131072"), error.message);
    assertEquals((await getSession(rig, id)).turn_in_flight, null);
  } finally {
    await rig.close();
  }
});

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { MODEL, startRig, type TestRig } from "../../gateway/testing.ts";
import {
  assertError,
  call,
  createSession,
  getSession,
  type Message,
  TestSocket,
  toolResults,
  TOOLS,
} from "./_testing.ts";

function create(rig: TestRig, body: Record<string, unknown> = {}, headers = {}) {
  return call(rig, "POST", "/v1/sessions", { model: MODEL, ...body }, headers);
}

async function turn(rig: TestRig, id: string, body: Record<string, unknown>): Promise<Response> {
  return await call(rig, "POST", `/v1/sessions/${id}/chat`, body);
}

/** A completed turn's reply. */
async function takeTurn(rig: TestRig, id: string, body: Record<string, unknown>): Promise<Message> {
  const res = await turn(rig, id, body);
  const json = await res.json();
  assertEquals(res.status, 200, JSON.stringify(json));
  return json.choices[0].message;
}

Deno.test("max_sessions caps the gateway's active sessions with a 429 until one goes", async () => {
  const rig = await startRig({ replicas: 1, sessions: { limits: { max_sessions: 3 } } });
  try {
    // Concurrent creates race for the last places: exactly three get one.
    const tries = await Promise.all(Array.from({ length: 8 }, () => create(rig)));
    const made = tries.filter((r) => r.status === 201);
    assertEquals(made.length, 3);
    for (const refused of tries.filter((r) => r.status !== 201)) {
      assertEquals(refused.headers.get("retry-after"), "30");
      const error = await assertError(refused, 429, "max_sessions_exceeded", null);
      assertEquals(error.type, "rate_limit_error");
      assert(error.message.includes("sessions.limits.max_sessions"), error.message);
    }
    const ids = await Promise.all(made.map(async (r) => (await r.json()).id as string));
    assertEquals((await call(rig, "DELETE", `/v1/sessions/${ids[0]}`)).status, 200);
    assertEquals((await create(rig)).status, 201);
    await assertError(await create(rig), 429, "max_sessions_exceeded");
  } finally {
    await rig.close();
  }
});

Deno.test("max_sessions_per_client caps each client id's active sessions with a 429", async () => {
  const rig = await startRig({ replicas: 1, sessions: { limits: { max_sessions_per_client: 2 } } });
  try {
    const alice = { "x-client-id": "alice" };
    const tries = await Promise.all(Array.from({ length: 5 }, () => create(rig, {}, alice)));
    assertEquals(tries.filter((r) => r.status === 201).length, 2);
    const refused = tries.find((r) => r.status !== 201)!;
    assertEquals(refused.headers.get("retry-after"), "30");
    const error = await assertError(refused, 429, "max_sessions_per_client_exceeded", null);
    assert(error.message.includes("alice"), error.message);
    for (const r of tries) if (!r.bodyUsed) await r.body?.cancel();
    // The body's client_id counts as the header does; other clients and none are not capped.
    await assertError(
      await create(rig, { client_id: "alice" }),
      429,
      "max_sessions_per_client_exceeded",
    );
    assertEquals((await create(rig, {}, { "x-client-id": "bob" })).status, 201);
    assertEquals((await create(rig)).status, 201);
    assertEquals((await create(rig)).status, 201);
    assertEquals((await create(rig)).status, 201);
    const list = await (await call(rig, "GET", "/v1/sessions?client_id=alice")).json();
    assertEquals(list.data.length, 2);
    await call(rig, "DELETE", `/v1/sessions/${list.data[0].id}`);
    assertEquals((await create(rig, {}, alice)).status, 201);
  } finally {
    await rig.close();
  }
});

Deno.test("max_tokens ends a session's turns with a 403 naming the limit; usage shows it", async () => {
  const rig = await startRig({ replicas: 1 });
  try {
    const id = await createSession(rig, { limits: { max_tokens: 400 } });
    let refused: Response | undefined;
    let turns = 0;
    for (; turns < 20; turns++) {
      const res = await turn(rig, id, { message: `question ${turns}`, max_tokens: 30 });
      if (res.status !== 200) {
        refused = res;
        break;
      }
      await res.body?.cancel();
    }
    assert(refused && turns >= 2, `refused after ${turns} turns`);
    const error = await assertError(refused, 403, "session_tokens_exceeded", "limits.max_tokens");
    assertEquals(error.type, "permission_error");
    assert(error.message.includes("max_tokens"), error.message);
    const head = await getSession(rig, id);
    assertEquals(head.turns, turns);
    assertEquals(head.limits.max_tokens, 400);
    assert(head.usage.total_tokens >= 400);
    assertEquals(head.usage.total_tokens, head.usage.prompt_tokens + head.usage.completion_tokens);
    assertEquals(head.usage.tokens_remaining, 0);
    // It does not come back by waiting: the next try is refused the same way.
    await assertError(await turn(rig, id, { message: "again" }), 403, "session_tokens_exceeded");
  } finally {
    await rig.close();
  }
});

Deno.test("max_tool_calls_per_minute is a 429 with Retry-After and when the window resets", async () => {
  const rig = await startRig({ replicas: 1 });
  try {
    const id = await createSession(rig, { limits: { max_tool_calls_per_minute: 2 } });
    const tools = {
      tools: TOOLS,
      tool_choice: "required",
      parallel_tool_calls: false,
      max_tokens: 64,
    };
    const first = await takeTurn(rig, id, { message: "look around", ...tools });
    assertEquals(first.tool_calls?.length, 1);
    const second = await takeTurn(rig, id, { messages: toolResults(first), ...tools });
    assertEquals(second.tool_calls?.length, 1);
    const head = await getSession(rig, id);
    assertEquals([head.usage.tool_calls, head.usage.tool_calls_last_minute], [2, 2]);
    const refused = await turn(rig, id, { messages: toolResults(second), ...tools });
    const retryAfter = Number(refused.headers.get("retry-after"));
    assert(retryAfter > 55 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    const error = await assertError(
      refused,
      429,
      "tool_calls_rate_exceeded",
      "limits.max_tool_calls_per_minute",
    );
    assertEquals(error.type, "rate_limit_error");
    assert(error.message.includes(`resets in ${retryAfter} s`), error.message);
    const resetsAt = Date.parse(error.message.match(/at (\S+Z)\)/)?.[1] ?? "");
    assert(Math.abs(resetsAt - (Date.now() + retryAfter * 1000)) < 2_000, error.message);
    // The refused turn took nothing: the calls are still open for when the window resets.
    const after = await getSession(rig, id);
    assertEquals([after.turns, after.open_tool_calls], [2, second.tool_calls!.map((c) => c.id)]);
  } finally {
    await rig.close();
  }
});

Deno.test("max_duration_seconds ends a session's turns with a 403 once it passes", async () => {
  const rig = await startRig({ replicas: 1 });
  try {
    const id = await createSession(rig, { limits: { max_duration_seconds: 0.6 } });
    await takeTurn(rig, id, { message: "quick", max_tokens: 2 });
    await new Promise((r) => setTimeout(r, 700));
    const error = await assertError(
      await turn(rig, id, { message: "too late", max_tokens: 2 }),
      403,
      "session_duration_exceeded",
      "limits.max_duration_seconds",
    );
    assert(error.message.includes("max_duration_seconds"), error.message);
    const head = await getSession(rig, id);
    assertEquals([head.turns, head.limits.max_duration_seconds], [1, 0.6]);
    assert(head.usage.duration_seconds >= 0);
    // An extend does not lift it: the duration counts from the creation.
    assertEquals((await call(rig, "POST", `/v1/sessions/${id}/extend`, {})).status, 200);
    await assertError(await turn(rig, id, { message: "still" }), 403, "session_duration_exceeded");
  } finally {
    await rig.close();
  }
});

Deno.test("config limits apply to every session; a session may set lower ones, never higher", async () => {
  const rig = await startRig({
    replicas: 1,
    sessions: {
      limits: { max_tokens_per_session: 5000, max_tool_calls_per_minute: 10, max_duration: 600 },
    },
  });
  try {
    const plain = await getSession(rig, await createSession(rig));
    assertEquals(plain.limits, {
      max_tokens: 5000,
      max_tool_calls_per_minute: 10,
      max_duration_seconds: 600,
    });
    assertEquals(plain.usage.tokens_remaining, 5000);
    const lower = await getSession(
      rig,
      await createSession(rig, { limits: { max_tokens: 100, max_duration_seconds: 60 } }),
    );
    assertEquals(lower.limits, {
      max_tokens: 100,
      max_tool_calls_per_minute: 10,
      max_duration_seconds: 60,
    });
    const higher = await getSession(
      rig,
      await createSession(rig, {
        limits: { max_tokens: 10 ** 9, max_tool_calls_per_minute: 1000, max_duration_seconds: 1e7 },
      }),
    );
    assertEquals(higher.limits, plain.limits);
    // Without config limits a session has none unless it asks.
    const free = await startRig({ replicas: 1 });
    try {
      const head = await getSession(free, await createSession(free));
      assertEquals(head.limits, {
        max_tokens: null,
        max_tool_calls_per_minute: null,
        max_duration_seconds: null,
      });
      assertEquals(head.usage.tokens_remaining, null);
    } finally {
      await free.close();
    }
  } finally {
    await rig.close();
  }
});

Deno.test("over the socket, a limit's refusal is an error frame with its status and retry_after", async () => {
  const rig = await startRig({ replicas: 1 });
  let socket: TestSocket | undefined;
  try {
    const id = await createSession(rig, { limits: { max_tool_calls_per_minute: 1 } });
    socket = await TestSocket.open(rig, id);
    const tools = {
      tools: TOOLS,
      tool_choice: "required",
      parallel_tool_calls: false,
      max_tokens: 64,
    };
    socket.send({ type: "turn", id: "a", message: "look around", ...tools });
    const done = (await socket.until("turn.completed", "error")).at(-1)!;
    assertEquals([done.type, done.message?.tool_calls?.length], ["turn.completed", 1]);
    socket.send({ type: "turn", id: "b", messages: toolResults(done.message!), ...tools });
    const refused = await socket.next();
    assertEquals(
      [refused.type, refused.id, refused.status, refused.error?.code, refused.error?.type],
      ["error", "b", 429, "tool_calls_rate_exceeded", "rate_limit_error"],
    );
    assert(refused.retry_after! > 55 && refused.retry_after! <= 60, String(refused.retry_after));
  } finally {
    await socket?.close();
    await rig.close();
  }
});

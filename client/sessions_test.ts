import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { MODEL, startRig, type TestRig } from "../gateway/testing.ts";
import { TurnpikeError } from "./http.ts";
import { SessionContext } from "./session_context.ts";
import { TurnpikeSessions } from "./sessions.ts";

function sessionsOf(rig: TestRig, headers?: Record<string, string>): TurnpikeSessions {
  return new TurnpikeSessions({ baseURL: rig.gateway.url, ...(headers ? { headers } : {}) });
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** Rejects unless `call` throws a TurnpikeError with `status` and `code`; answers it. */
async function refusal(
  call: () => Promise<unknown>,
  status: number,
  code: string,
): Promise<TurnpikeError> {
  const caught = await call().then(() => undefined, (error: unknown) => error);
  assert(caught instanceof TurnpikeError, `Expected a TurnpikeError, got ${caught}`);
  assertEquals([caught.status, caught.code], [status, code], caught.message);
  return caught;
}

Deno.test("TurnpikeSessions takes a multi-turn session that sends only the new messages", async () => {
  const rig = await startRig({ replicas: 1 });
  try {
    const ctx = new SessionContext({ taskId: "ts-task", clientId: "ts-agent" });
    const sessions = sessionsOf(rig, ctx.headers());
    const session = await sessions.create({
      model: MODEL,
      system: "You are terse.",
      metadata: { team: "a" },
      ttl_seconds: 600,
    });
    assertEquals([session.object, session.state, session.turns], ["session", "active", 0]);
    // The task and client headers fill in what the body leaves out.
    assertEquals([session.task_id, session.client_id], ["ts-task", "ts-agent"]);

    const first = await sessions.turn(session.id, { message: "first question", max_tokens: 5 });
    const firstText = first.choices[0]?.message.content ?? "";
    assert(firstText.length > 0);
    ctx.setTiming({ preMs: 30, postMs: 4 });
    let streamed = "";
    let finish: string | null = null;
    const stream = await sessions.turnStream(session.id, {
      messages: [{ role: "user", content: "second question" }],
      max_tokens: 5,
    });
    for await (const chunk of stream) {
      streamed += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert(streamed.length > 0);
    assertEquals(finish, "length");

    const turns = await collect(sessions.history(session.id, { include: "sent" }));
    assertEquals(turns.map((t) => [t.turn, t.status, t.source]), [
      [1, "completed", "session"],
      [2, "completed", "session"],
    ]);
    assertEquals(turns[1]!.input, [{ role: "user", content: "second question" }]);
    assertEquals(turns[1]!.output[0]?.content, streamed);
    assertEquals(turns[1]!.sent.prompt?.map((m) => m.content), [
      "You are terse.",
      "first question",
      firstText,
      "second question",
    ]);
    // The live headers object carried the timing set between the turns.
    const [second] = rig.gateway.records.recent({ sessionId: session.id });
    assertEquals([second?.clientPreMs, second?.clientPostMs, second?.taskId], [30, 4, "ts-task"]);

    const got = await sessions.get(session.id);
    assertEquals(got.turns, 2);
    assert(got.usage.completion_tokens > 0);
    const extended = await sessions.extend(session.id, { ttl_seconds: 7200 });
    assert(extended.expires_at >= got.expires_at + 6000, JSON.stringify(extended));
    assertEquals(await sessions.delete(session.id), {
      id: session.id,
      object: "session.deleted",
      deleted: true,
    });
    await refusal(() => sessions.get(session.id), 404, "session_not_found");
  } finally {
    await rig.close();
  }
});

Deno.test("list() and history() follow the cursor across pages", async () => {
  const rig = await startRig({ replicas: 1 });
  try {
    const sessions = sessionsOf(rig);
    const task = `task-${crypto.randomUUID()}`;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await sessions.create({ model: MODEL, task_id: i < 3 ? task : "other" })).id);
    }
    const listed = await collect(sessions.list({ task_id: task, limit: 2 }));
    assertEquals(listed.map((s) => s.id).sort(), ids.slice(0, 3).sort());
    const page = await sessions.listPage({ task_id: task, limit: 2 });
    assertEquals([page.data.length, page.has_more], [2, true]);
    assertEquals(page.next_cursor, page.data[1]!.id);

    const id = ids[0]!;
    for (let turn = 1; turn <= 5; turn++) {
      await sessions.turn(id, { message: `question ${turn}`, max_tokens: 2 });
    }
    const turns = await collect(sessions.history(id, { limit: 2 }));
    assertEquals(turns.map((t) => t.turn), [1, 2, 3, 4, 5]);
    assertEquals(turns[4]!.input, [{ role: "user", content: "question 5" }]);
    const last = await sessions.historyPage(id, { limit: 2, after: "4" });
    assertEquals([last.data.map((t) => t.turn), last.has_more, last.next_cursor], [
      [5],
      false,
      null,
    ]);
  } finally {
    await rig.close();
  }
});

Deno.test("cancel() ends a streaming turn and the session keeps its partial reply", async () => {
  const rig = await startRig({ replicas: 1, sim: { timeScale: 1 } });
  try {
    const sessions = sessionsOf(rig);
    const { id } = await sessions.create({ model: MODEL });
    assertEquals(await sessions.cancel(id), {
      id,
      object: "session.cancel",
      turn: null,
      cancelled: false,
    });
    const stream = await sessions.turnStream(id, {
      message: "write a long story",
      max_tokens: 400,
    });
    let text = "";
    let finish: string | null = null;
    let cancelled: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (text.length > 0 && cancelled === undefined) cancelled = await sessions.cancel(id);
    }
    assertEquals(cancelled, { id, object: "session.cancel", turn: 1, cancelled: true });
    assertEquals(finish, "cancelled");
    const [turn] = await collect(sessions.history(id));
    assertEquals([turn?.status, turn?.finish_reason], ["cancelled", "cancelled"]);
    assertEquals(turn?.output[0]?.content, text);
    assert(text.split(" ").length < 400);
  } finally {
    await rig.close();
  }
});

Deno.test("refusals are TurnpikeErrors carrying the gateway's status and OpenAI error body", async () => {
  const rig = await startRig({ replicas: 1, sim: { timeScale: 1 } });
  try {
    const sessions = sessionsOf(rig);
    const unknown = await refusal(() => sessions.get("sess_nope"), 404, "session_not_found");
    assertEquals(unknown.type, "invalid_request_error");
    assert(unknown.body.error.message.includes("sess_nope"), unknown.message);
    const model = await refusal(
      () => sessions.create({ model: "no-such-model" }),
      404,
      "model_not_found",
    );
    assertEquals(model.param, "model");
    await refusal(() => sessions.create({ model: MODEL, ttl_seconds: -1 }), 400, "invalid_request");
    await refusal(() => sessions.turn("sess_nope", { message: "hi" }), 404, "session_not_found");
    await refusal(
      () => sessions.turnStream("sess_nope", { message: "hi" }),
      404,
      "session_not_found",
    );
    await refusal(() => sessions.history("sess_nope").next(), 404, "session_not_found");

    const { id } = await sessions.create({ model: MODEL, on_busy: "reject" });
    const both = { message: "a", messages: [{ role: "user", content: "b" }] } as never;
    await refusal(() => sessions.turn(id, both), 400, "invalid_request");
    // A second turn while one runs is refused with 409 and a Retry-After.
    const running = await sessions.turnStream(id, {
      message: "write a long story",
      max_tokens: 300,
    });
    const firstChunk = await running.next();
    assert(!firstChunk.done);
    const busy = await refusal(() => sessions.turn(id, { message: "again" }), 409, "session_busy");
    assertEquals(busy.retryAfterSeconds, 1);
    await sessions.cancel(id);
    await collect(running);
  } finally {
    await rig.close();
  }
});

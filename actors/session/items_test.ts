import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { MODEL, startRig } from "../../gateway/testing.ts";
import {
  deleteMessage,
  deleteMessagePart,
  editTurn,
  forkSession,
  updateMetadata,
  writtenMessages,
} from "./items.ts";
import type { ChatMessage } from "./messages.ts";
import type { SessionService } from "./service.ts";

/** A session whose turns hold `turns`, appended without a model call. */
async function sessionWith(sessions: SessionService, turns: ChatMessage[][]): Promise<string> {
  const created = await sessions.create({ model: MODEL, metadata: { team: "a" } });
  assert(created.ok);
  for (const [i, messages] of turns.entries()) {
    const appended = await sessions.append(created.head.id, {
      messages,
      source: "conversation",
      requestId: `r${i}`,
    });
    assert(appended.ok, JSON.stringify(appended));
  }
  return created.head.id;
}

const CALL_A = {
  id: "call_a",
  type: "function" as const,
  function: { name: "get_weather", arguments: "{}" },
};
const CALL_B = {
  id: "call_b",
  type: "function" as const,
  function: { name: "get_time", arguments: "{}" },
};
const CALLS: ChatMessage = {
  role: "assistant",
  content: "Checking both.",
  tool_calls: [CALL_A, CALL_B],
};

async function withSessions(body: (sessions: SessionService) => Promise<void>): Promise<void> {
  const rig = await startRig({ replicas: 1 });
  try {
    await body(rig.gateway.sessions);
  } finally {
    await rig.close();
  }
}

Deno.test("forkSession() copies the turns up to one, each marked with its original", async () => {
  await withSessions(async (sessions) => {
    const id = await sessionWith(sessions, [
      [{ role: "user", content: "one" }],
      [{ role: "user", content: "two" }],
      [{ role: "user", content: "three" }],
    ]);
    const forked = await forkSession(sessions, id, 2, { id: "conv_fork", source: "conversation" });
    assert(forked.ok);
    assertEquals(forked.value.next_turn, 3);
    assertEquals(forked.value.metadata, { team: "a" });
    assertEquals(forked.value.usage.turns, 2);
    const copies = await sessions.store.turns("conv_fork", 1);
    assertEquals(copies.map((t) => t.input), [
      [{ role: "user", content: "one" }],
      [{ role: "user", content: "two" }],
    ]);
    assertEquals(copies.map((t) => t.extra?.copied_from), [
      { session: id, turn: 1 },
      { session: id, turn: 2 },
    ]);
    // A fork of a fork still names the first original.
    const again = await forkSession(sessions, "conv_fork", 1, { id: "conv_fork2" });
    assert(again.ok);
    assertEquals((await sessions.store.turn("conv_fork2", 1))?.extra?.copied_from, {
      session: id,
      turn: 1,
    });
    const empty = await forkSession(sessions, id, 0, { id: "conv_empty" });
    assert(empty.ok);
    assertEquals(empty.value.next_turn, 1);
    for (const upTo of [4, -1]) {
      const refused = await forkSession(sessions, id, upTo, { id: `conv_bad${upTo}` });
      assert(!refused.ok);
      assertEquals(refused.refusal.status, 404);
      assert(!(await sessions.get(`conv_bad${upTo}`)).ok);
    }
    const unknown = await forkSession(sessions, "sess_unknown", 0, { id: "conv_x" });
    assert(!unknown.ok);
    assertEquals(unknown.refusal.status, 404);
  });
});

Deno.test("deleteMessage() marks a message deleted once, and refuses it twice", async () => {
  await withSessions(async (sessions) => {
    const id = await sessionWith(sessions, [[
      { role: "user", content: "keep" },
      { role: "user", content: "drop" },
    ]]);
    const deleted = await deleteMessage(sessions, id, 1, 1);
    assert(deleted.ok);
    assertEquals(deleted.value.deleted, [1]);
    assertEquals(deleted.value.input.length, 2);
    for (const [turn, index] of [[1, 1], [1, 2], [2, 0]] as const) {
      const refused = await deleteMessage(sessions, id, turn, index);
      assert(!refused.ok);
      assertEquals(refused.refusal.status, 404);
    }
  });
});

Deno.test("deleteMessagePart() drops one tool call, keeps the message as written, and stops waiting for that call", async () => {
  await withSessions(async (sessions) => {
    const id = await sessionWith(sessions, [[
      { role: "user", content: "Weather and time?" },
      CALLS,
    ]]);
    const openOf = async () => {
      const found = await sessions.get(id);
      assert(found.ok);
      return found.found.head.open_tool_calls;
    };
    assertEquals(await openOf(), ["call_a", "call_b"]);
    const edited = await deleteMessagePart(sessions, id, 1, 1, { toolCallId: "call_a" });
    assert(edited.ok);
    assertEquals(edited.value.input[1], { ...CALLS, tool_calls: [CALL_B] });
    assertEquals(writtenMessages(edited.value)[1], CALLS);
    assertEquals(await openOf(), ["call_b"]);
    // The text goes the same way; the last part takes the message with it.
    const text = await deleteMessagePart(sessions, id, 1, 1, { text: true });
    assert(text.ok);
    assertEquals(text.value.input[1]?.content, null);
    const last = await deleteMessagePart(sessions, id, 1, 1, { toolCallId: "call_b" });
    assert(last.ok);
    assertEquals(last.value.deleted, [1]);
    assertEquals(writtenMessages(last.value)[1], CALLS);
    assertEquals(await openOf(), []);
    // Parts that are not there, or messages that are no assistant's, are refused.
    for (
      const [index, part] of [
        [1, { toolCallId: "call_b" }],
        [0, { text: true }],
        [5, { text: true }],
      ] as const
    ) {
      const refused = await deleteMessagePart(sessions, id, 1, index, part);
      assert(!refused.ok);
      assertEquals(refused.refusal.status, 404);
    }
  });
});

Deno.test("editTurn() and updateMetadata() refuse an unknown session or turn", async () => {
  await withSessions(async (sessions) => {
    const id = await sessionWith(sessions, [[{ role: "user", content: "one" }]]);
    const updated = await updateMetadata(sessions, id, { team: "b" });
    assert(updated.ok);
    assertEquals(updated.value.metadata, { team: "b" });
    const found = await sessions.get(id);
    assert(found.ok);
    assertEquals(found.found.head.metadata, { team: "b" });
    const marked = await editTurn(sessions, id, 1, (r) => ({ ...r, extra: { mark: true } }));
    assert(marked.ok);
    assertEquals((await sessions.store.turn(id, 1))?.extra, { mark: true });
    for (
      const result of [
        await updateMetadata(sessions, "sess_unknown", {}),
        await editTurn(sessions, "sess_unknown", 1, (r) => r),
        await editTurn(sessions, id, 2, (r) => r),
      ]
    ) {
      assert(!result.ok);
      assertEquals(result.refusal.status, 404);
    }
  });
});

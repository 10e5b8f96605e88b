import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { startRig } from "../gateway/testing.ts";
import { TurnpikeError } from "./http.ts";
import { TurnpikeSessions } from "./sessions.ts";

Deno.test("TurnpikeConversations creates a conversation, adds items, pages them and deletes it", async () => {
  const rig = await startRig({ replicas: 1 });
  try {
    const { conversations } = new TurnpikeSessions({ baseURL: rig.gateway.url });
    const created = await conversations.create({
      metadata: { topic: "flaky tests" },
      items: [{ role: "user", content: "first" }, { role: "assistant", content: "second" }],
    });
    assertEquals([created.object, created.metadata], ["conversation", { topic: "flaky tests" }]);
    const added = await conversations.addItems(created.id, [
      { role: "user", content: "third" },
      { type: "function_call", call_id: "call_1", name: "grep", arguments: "{}" },
      { type: "function_call_output", call_id: "call_1", output: "no match" },
    ]);
    assertEquals(added.data.length, 3);
    const items = [];
    for await (const item of conversations.items(created.id, { order: "asc", limit: 2 })) {
      items.push(item);
    }
    assertEquals(items.map((i) => i.type), [
      "message",
      "message",
      "message",
      "function_call",
      "function_call_output",
    ]);
    assertEquals(new Set(items.map((i) => i.id)).size, 5);
    const newest = await conversations.itemsPage(created.id, { limit: 1 });
    assertEquals([newest.data[0]?.type, newest.has_more], ["function_call_output", true]);
    assertEquals((await conversations.get(created.id)).id, created.id);
    // A conversation is a session: the sessions API sees it too.
    const sessions = new TurnpikeSessions({ baseURL: rig.gateway.url });
    assertEquals((await sessions.get(created.id)).turns, 2);
    assertEquals(await conversations.delete(created.id), {
      id: created.id,
      object: "conversation.deleted",
      deleted: true,
    });
    const gone = await conversations.get(created.id).catch((error: unknown) => error);
    assert(gone instanceof TurnpikeError, String(gone));
    assertEquals([gone.status, gone.code], [404, "conversation_not_found"]);
  } finally {
    await rig.close();
  }
});

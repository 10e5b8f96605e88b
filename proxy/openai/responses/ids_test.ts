import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { newConversationId, parseResponseId, responseId } from "./ids.ts";

Deno.test("responseId() names its session and turn, and parseResponseId() reads them back", () => {
  for (const sessionId of ["conv_abc123", "sess_x.y:z-1", "a"]) {
    const id = responseId(sessionId, 17);
    assert(/^resp_[0-9a-f]+_17$/.test(id), id);
    assertEquals(parseResponseId(id), { sessionId, turn: 17 });
  }
});

Deno.test("parseResponseId() refuses ids that name no session turn", () => {
  for (
    const id of [
      "resp_abc",
      "resp_6162_0",
      "resp_616_1",
      "resp__1",
      "resp_20_1", // a space is no session id character
      "resp_ff_1", // not UTF-8
      `resp_${"61".repeat(129)}_1`, // longer than a session id
      "msg_6162_1",
    ]
  ) assertEquals(parseResponseId(id), undefined, id);
});

Deno.test("newConversationId() makes distinct conv_ ids", () => {
  const a = newConversationId();
  assert(/^conv_[0-9a-z]{24}$/.test(a), a);
  assert(a !== newConversationId());
});

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { sessionSummaries } from "./session_summaries.ts";
import { record } from "../_record_fixture.ts";

Deno.test("sessionSummaries() counts each session's turns and tokens and takes its last turn's replica, the most recent session first", () => {
  const rows = sessionSummaries([
    record(1000, { sessionId: "a", backendId: "b1", taskId: "t1" }),
    record(3000, { sessionId: "b", backendId: "b2" }),
    record(2000, { sessionId: "a", backendId: "b2", status: 502, taskId: "t2" }),
    record(2500, { sessionId: undefined }),
  ], { sinceMs: 0 });
  assertEquals(rows.map((r) => [r.session_id, r.turns, r.backend, r.errors]), [
    ["b", 1, "b2", 0],
    ["a", 2, "b2", 1],
  ]);
  const a = rows[1]!;
  assertEquals([a.prompt_tokens, a.completion_tokens, a.task_id], [4, 6, "t2"]);
  assertEquals([a.first_turn_at, a.last_turn_at], [
    new Date(1000).toISOString(),
    new Date(2000).toISOString(),
  ]);
});

Deno.test("sessionSummaries() leaves out sessions idle since before the window and turns of other models", () => {
  const rows = sessionSummaries([
    record(1000, { sessionId: "old" }),
    record(5000, { sessionId: "new" }),
    record(6000, { sessionId: "other", model: "x" }),
  ], { sinceMs: 4000, model: "m" });
  assertEquals(rows.map((r) => r.session_id), ["new"]);
});

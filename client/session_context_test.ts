import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import OpenAI from "openai";
import { chat, MODEL, startRig } from "../gateway/testing.ts";
import { SessionContext } from "./session_context.ts";
import { runAgent } from "./example_agent.ts";

Deno.test("SessionContext headers carry the ids and the latest timing", () => {
  const ctx = new SessionContext({
    sessionId: "s1",
    taskId: "t1",
    headerNames: { client: "X-Agent" },
    clientId: "me",
  });
  const headers: Record<string, string | undefined> = ctx.headers();
  assertEquals({ ...headers }, { "X-Session-ID": "s1", "X-Task-ID": "t1", "X-Agent": "me" });
  ctx.setTiming({ preMs: 12.3456, postMs: 4 });
  assertEquals([headers["X-Timing-Pre-Ms"], headers["X-Timing-Post-Ms"]], ["12.346", "4"]);
  ctx.setTiming({ postMs: 7 });
  assertEquals([headers["X-Timing-Pre-Ms"], headers["X-Timing-Post-Ms"]], [undefined, "7"]);
  assert(new SessionContext().sessionId.length >= 16);
});

Deno.test("the OpenAI client sends the live SessionContext headers and the gateway records them", async () => {
  const rig = await startRig({ replicas: 1 });
  try {
    const ctx = new SessionContext({ sessionId: "agent-7", taskId: "task-3" });
    const client = new OpenAI({
      baseURL: `${rig.gateway.url}/v1`,
      apiKey: "x",
      defaultHeaders: ctx.headers(),
      maxRetries: 0,
    });
    await client.chat.completions.create(chat("turn 1"));
    ctx.setTiming({ preMs: 50, postMs: 5 });
    await client.chat.completions.create(chat("turn 2"));
    const [second, first] = rig.gateway.records.recent({ sessionId: "agent-7" });
    assertEquals([first?.taskId, first?.clientPreMs], ["task-3", undefined]);
    assertEquals([second?.taskId, second?.clientPreMs, second?.clientPostMs], ["task-3", 50, 5]);
  } finally {
    await rig.close();
  }
});

Deno.test("the example agent runs its turns through the gateway as one session", async () => {
  const rig = await startRig({ replicas: 1 });
  try {
    const run = await runAgent({
      baseURL: `${rig.gateway.url}/v1`,
      model: MODEL,
      turns: 3,
      maxTokens: 6,
    });
    assertEquals(run.answers.length, 3);
    const records = rig.gateway.records.recent({ sessionId: run.sessionId });
    assertEquals(records.length, 3);
    assert(
      records.every((r) =>
        r.taskId === "example-task" && r.clientId === "example-agent" && r.stream
      ),
    );
    assert((records[0]?.clientPreMs ?? 0) > 0, "the last turn reports the tool time");
  } finally {
    await rig.close();
  }
});

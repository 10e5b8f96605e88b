import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import type OpenAI from "openai";
import { MODEL, startRig, type TestRig } from "../../gateway/testing.ts";
import {
  assertToolPairs,
  createSession,
  fullHistory,
  getSession,
  type Message,
  sessionClient,
  simPromptTokens,
  TestSocket,
  toolResults,
  TOOLS,
} from "./_testing.ts";

const SYSTEM = "You are a coding agent.";
const TURNS = 30;

/** One turn of a loop as a transport takes it: the new messages and the request's parameters. */
type TakeTurn = (
  messages: Message[],
  params: Record<string, unknown>,
) => Promise<{ turn: number; reply: Message; finishReason: string | null }>;

/** What the client sent and got, turn by turn. */
interface Loop {
  inputs: Message[][];
  replies: Message[];
  params: Record<string, unknown>[];
}

/** `tool_choice` and `parallel_tool_calls` of turn `n`: each kind in turn. */
function paramsOf(n: number): Record<string, unknown> {
  const choices = [
    "auto",
    "required",
    { type: "function", function: { name: "run_tests" } },
    "none",
    "required",
  ];
  return {
    tools: TOOLS,
    tool_choice: choices[n % choices.length],
    parallel_tool_calls: n % 3 !== 0,
    max_tokens: 64,
  };
}

/** An agent loop: a user message, or the results of the calls the last reply made. */
async function agentLoop(take: TakeTurn): Promise<Loop> {
  const loop: Loop = { inputs: [], replies: [], params: [] };
  let last: Message | undefined;
  for (let n = 1; n <= TURNS; n++) {
    const messages: Message[] = last?.tool_calls?.length
      ? toolResults(last, (name, i) => `turn ${n} call ${i}: ${name} printed 3 lines`)
      : [{ role: "user", content: `Step ${n}: go on with the refactor.` }];
    const params = paramsOf(n);
    const got = await take(messages, params);
    assertEquals(got.turn, n, "turn numbers follow each other");
    const choice = params.tool_choice;
    if (choice === "none") assertEquals(got.reply.tool_calls, undefined);
    if (choice === "required" || typeof choice === "object") {
      assertEquals(got.finishReason, "tool_calls");
      assert(got.reply.tool_calls!.length >= 1);
    }
    if (typeof choice === "object") {
      assertEquals(got.reply.tool_calls?.map((c) => c.function.name), ["run_tests"]);
    } else if (params.parallel_tool_calls === false) {
      assert((got.reply.tool_calls?.length ?? 0) <= 1, "one call at most without parallel calls");
    }
    loop.inputs.push(messages);
    loop.replies.push(got.reply);
    loop.params.push(params);
    last = got.reply;
  }
  const toolTurns = loop.replies.filter((r) => r.tool_calls?.length).length;
  assert(toolTurns >= 10 && toolTurns < TURNS, `${toolTurns} turns called tools`);
  return loop;
}

/** The reply as the history keeps it: role, content and the calls if any. */
function kept(reply: Message): Message {
  return {
    role: "assistant",
    content: reply.content ?? null,
    ...(reply.tool_calls?.length
      ? {
        tool_calls: reply.tool_calls.map((c) => ({
          id: c.id,
          type: "function",
          function: { name: c.function.name, arguments: c.function.arguments },
        })),
      }
      : {}),
  };
}

/** Checks the session's history and head against what the loop sent and got. */
async function assertKept(rig: TestRig, id: string, loop: Loop): Promise<void> {
  // Pages of 7: a page's prompts are rebuilt from turns on the pages before it.
  const { turns, compactions } = await fullHistory(rig, id, 7);
  assertEquals(compactions, []);
  assertEquals(
    turns.map((t) => [t.turn, t.status]),
    loop.inputs.map((_, i) => [i + 1, "completed"]),
  );
  const conversation: Message[] = [{ role: "system", content: SYSTEM }];
  for (const [i, t] of turns.entries()) {
    assertEquals(t.input, loop.inputs[i]);
    assertEquals(t.output.map(kept), [kept(loop.replies[i]!)]);
    conversation.push(...t.input);
    // The prompt is the session's: everything before, then the new messages.
    assertEquals(t.sent.prompt, conversation, `turn ${t.turn} sent the session's prompt`);
    assertEquals(t.sent.messages, conversation.length);
    assertToolPairs(t.sent.prompt!, `turn ${t.turn}`);
    // What the replica counted is what this prompt renders to: it was sent this prompt.
    assertEquals(t.usage.prompt_tokens, simPromptTokens(conversation, TOOLS), `turn ${t.turn}`);
    conversation.push(...t.output);
  }
  assertToolPairs(conversation.slice(0, -1), "the whole history");
  const head = await getSession(rig, id);
  const calls = loop.replies.reduce((n, r) => n + (r.tool_calls?.length ?? 0), 0);
  assertEquals(head.turns, TURNS);
  assertEquals(head.usage.turns, TURNS);
  assertEquals(head.usage.tool_calls, calls);
  assertEquals(head.open_tool_calls, (loop.replies.at(-1)!.tool_calls ?? []).map((c) => c.id));
  assertEquals(head.turn_in_flight, null);
}

Deno.test("a 30-turn agent loop over HTTP keeps every turn and its tool pairs", async () => {
  const rig = await startRig({ replicas: 2 });
  try {
    const id = await createSession(rig, { system: SYSTEM });
    const client = sessionClient(rig, id);
    let streamed = false;
    const loop = await agentLoop(async (messages, params) => {
      // Every other turn streams: both answer shapes take part in one session.
      streamed = !streamed;
      const body = {
        model: MODEL,
        messages,
        ...params,
      } as unknown as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming;
      if (!streamed) {
        const { data, response } = await client.chat.completions.create(body).withResponse();
        const choice = data.choices[0]!;
        return {
          turn: Number(response.headers.get("x-session-turn")),
          reply: choice.message as Message,
          finishReason: choice.finish_reason,
        };
      }
      const { data: stream, response } = await client.chat.completions.create({
        ...body,
        stream: true,
      }).withResponse();
      let content = "";
      let finishReason: string | null = null;
      const calls: NonNullable<Message["tool_calls"]> = [];
      for await (const chunk of stream) {
        const choice = chunk.choices[0];
        if (!choice) continue;
        content += choice.delta.content ?? "";
        finishReason = choice.finish_reason ?? finishReason;
        for (const d of choice.delta.tool_calls ?? []) {
          const c = calls[d.index] ??= {
            id: "",
            type: "function",
            function: { name: "", arguments: "" },
          };
          c.id ||= d.id ?? "";
          c.function.name ||= d.function?.name ?? "";
          c.function.arguments += d.function?.arguments ?? "";
        }
      }
      const reply: Message = {
        role: "assistant",
        content: calls.length > 0 && content === "" ? null : content,
        ...(calls.length > 0 ? { tool_calls: calls } : {}),
      };
      return { turn: Number(response.headers.get("x-session-turn")), reply, finishReason };
    });
    await assertKept(rig, id, loop);
  } finally {
    await rig.close();
  }
});

Deno.test("a 30-turn agent loop over the session socket keeps every turn and its tool pairs", async () => {
  const rig = await startRig({ replicas: 2 });
  let socket: TestSocket | undefined;
  try {
    const id = await createSession(rig, { system: SYSTEM });
    socket = await TestSocket.open(rig, id);
    const ws = socket;
    let n = 0;
    const loop = await agentLoop(async (messages, params) => {
      n++;
      // `message` (one) and `messages` (a list) are both turn frames.
      const one = messages.length === 1 && n % 2 === 0;
      ws.send({
        type: "turn",
        id: `t${n}`,
        ...(one ? { message: messages[0] } : { messages }),
        ...params,
      });
      const seen = await ws.until("turn.completed", "turn.cancelled", "error");
      const end = seen.at(-1)!;
      assertEquals(end.type, "turn.completed", JSON.stringify(end));
      assertEquals(seen[0], { type: "turn.started", turn: end.turn, id: `t${n}` });
      assertEquals(end.id, `t${n}`);
      assert(seen.slice(1, -1).every((m) => m.type === "chunk" && m.turn === end.turn));
      return { turn: end.turn!, reply: end.message!, finishReason: end.finish_reason ?? null };
    });
    await assertKept(rig, id, loop);
  } finally {
    await socket?.close();
    await rig.close();
  }
});

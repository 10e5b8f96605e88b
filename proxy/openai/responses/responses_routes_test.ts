import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import type OpenAI from "openai";
import { MODEL, startRig, type TestRig } from "../../../gateway/testing.ts";
import type { SimServer } from "../../../sim/mod.ts";
import {
  apiError,
  errorBody,
  history,
  type HistoryTurn,
  send,
  sessionIds,
  sessionOf,
  WEATHER_TOOL,
} from "./_testing.ts";
import { parseResponseId, responseId } from "./ids.ts";

type Reply = OpenAI.Responses.Response;
type InputItem = OpenAI.Responses.ResponseInputItem;
type FunctionCall = OpenAI.Responses.ResponseFunctionToolCall;
type StreamEvent = OpenAI.Responses.ResponseStreamEvent;

const TIME_TOOL = {
  type: "function",
  name: "get_time",
  description: "Local time in a city",
  parameters: {
    type: "object",
    properties: { city: { type: "string" } },
    required: ["city"],
    additionalProperties: false,
  },
  strict: true,
} as const;

async function withRig(body: (rig: TestRig) => Promise<void>): Promise<void> {
  const rig = await startRig();
  try {
    await body(rig);
  } finally {
    await rig.close();
  }
}

function callsOf(reply: Reply): FunctionCall[] {
  return reply.output.filter((o): o is FunctionCall => o.type === "function_call");
}

/** A `function_call_output` answering each call of `reply`. */
function answers(reply: Reply, output: (call: FunctionCall) => string): InputItem[] {
  return callsOf(reply).map((call) => ({
    type: "function_call_output",
    call_id: call.call_id,
    output: output(call),
  }));
}

/** The text of a message item. */
function textOf(item: OpenAI.Conversations.ConversationItem): string {
  assert(item.type === "message", item.type);
  return item.content.map((p) => "text" in p ? p.text : "").join("");
}

/** The SDK's `output_text` is its own convenience, computed on the client. */
function wire(reply: Reply): Omit<Reply, "output_text"> {
  const { output_text: _text, ...rest } = reply;
  return rest;
}

async function inputItems(client: OpenAI, id: string) {
  const items = [];
  for await (const item of client.responses.inputItems.list(id, { order: "asc", limit: 2 })) {
    items.push(item);
  }
  return items;
}

Deno.test("POST /v1/responses answers text input, and GET /v1/responses/:id returns what it stored", async () => {
  await withRig(async ({ client }) => {
    const reply = await client.responses.create({
      model: MODEL,
      input: "Name three rivers",
      instructions: "Answer in one line",
      max_output_tokens: 6,
      metadata: { run: "r1" },
    });
    assert(/^resp_[0-9a-f]+_1$/.test(reply.id), reply.id);
    assertEquals(reply.object, "response");
    assertEquals(reply.status, "incomplete");
    assertEquals(reply.incomplete_details, { reason: "max_output_tokens" });
    assertEquals(reply.instructions, "Answer in one line");
    assertEquals(reply.metadata, { run: "r1" });
    assertEquals((reply as Reply & { store: boolean }).store, true);
    assertEquals(reply.output.length, 1);
    assertEquals(reply.output[0]!.type, "message");
    assert(reply.output_text.length > 0);
    assertEquals(reply.usage?.output_tokens, 6);
    assertEquals(await client.responses.retrieve(reply.id), reply);
    // The instructions are the session's system prompt, not an input item.
    const items = await inputItems(client, reply.id);
    assertEquals(items.map((i) => i.type === "message" && i.role), ["user"]);
    assertEquals(
      items[0]!.type === "message" && items[0]!.content,
      [{ type: "input_text", text: "Name three rivers" }],
    );
  });
});

Deno.test("input items (messages, function_call, function_call_output) become the turn's messages in order", async () => {
  await withRig(async ({ client, gateway }) => {
    const input: InputItem[] = [
      { type: "message", role: "developer", content: "Use metric units" },
      { type: "message", role: "user", content: [{ type: "input_text", text: "Paris weather?" }] },
      {
        type: "function_call",
        call_id: "call_1",
        name: "get_weather",
        arguments: '{"city":"Paris"}',
      },
      { type: "function_call_output", call_id: "call_1", output: '{"celsius":21}' },
    ];
    const reply = await client.responses.create({
      model: MODEL,
      input,
      tools: [WEATHER_TOOL],
      tool_choice: "none",
    });
    assertEquals(reply.status, "completed");
    assertEquals(reply.output.map((o) => o.type), ["message"]);
    const items = await inputItems(client, reply.id);
    assertEquals(items.map((i) => i.type), [
      "message",
      "message",
      "function_call",
      "function_call_output",
    ]);
    const call = items[2]!;
    assert(call.type === "function_call");
    assertEquals([call.call_id, call.name, call.arguments], [
      "call_1",
      "get_weather",
      '{"city":"Paris"}',
    ]);
    const output = items[3]!;
    assertEquals(output.type === "function_call_output" && output.output, '{"celsius":21}');
    const [turn] = await history(gateway.url, sessionOf(reply.id));
    assertEquals(turn!.sent.prompt.map((m) => m.role), ["developer", "user", "assistant", "tool"]);
  });
});

Deno.test("instructions open a new chain's prompt, and a change of them is sent but never listed", async () => {
  await withRig(async ({ client, gateway }) => {
    const ask = (input: string, instructions: string | undefined, previous?: Reply) =>
      client.responses.create({
        model: MODEL,
        input,
        max_output_tokens: 3,
        ...(instructions === undefined ? {} : { instructions }),
        ...(previous ? { previous_response_id: previous.id } : {}),
      });
    const first = await ask("one", "Be brief");
    const same = await ask("two", "Be brief", first);
    const none = await ask("three", undefined, same);
    const changed = await ask("four", "Be verbose", none);
    assertEquals([first, same, none, changed].map((r) => r.instructions), [
      "Be brief",
      "Be brief",
      null,
      "Be verbose",
    ]);
    const prompts = (await history(gateway.url, sessionOf(first.id))).map((t) => t.sent.prompt);
    assertEquals(prompts[0]!.map((m) => [m.role, m.content]), [
      ["system", "Be brief"],
      ["user", "one"],
    ]);
    assertEquals(prompts[3]!.slice(-2).map((m) => [m.role, m.content]), [
      ["developer", "Be verbose"],
      ["user", "four"],
    ]);
    assertEquals(prompts[3]!.filter((m) => m.role === "developer").length, 1);
    for (const [reply, input] of [[first, "one"], [changed, "four"]] as const) {
      const items = await inputItems(client, reply.id);
      assertEquals(items.map((i) => textOf(i as OpenAI.Conversations.ConversationItem)), [input]);
    }
    const all = await client.conversations.items.list(sessionOf(first.id), { order: "asc" });
    assertEquals(all.data.filter((i) => i.type === "message" && i.role === "user").map(textOf), [
      "one",
      "two",
      "three",
      "four",
    ]);
    assertEquals(all.data.length, 8);
  });
});

Deno.test("instructions too long for a session's head still lead the prompt, and show on the Response", async () => {
  await withRig(async ({ client, gateway }) => {
    const instructions = "Follow the house rules. ".repeat(3_000);
    const reply = await client.responses.create({
      model: MODEL,
      input: "Hello",
      instructions,
      max_output_tokens: 3,
    });
    assertEquals(reply.instructions, instructions);
    assertEquals((await client.responses.retrieve(reply.id)).instructions, instructions);
    assertEquals((await inputItems(client, reply.id)).length, 1);
    const [turn] = await history(gateway.url, sessionOf(reply.id));
    assertEquals(turn!.sent.prompt.map((m) => [m.role, m.content]), [
      ["developer", instructions],
      ["user", "Hello"],
    ]);
    // The chain goes on under them.
    const next = await client.responses.create({
      model: MODEL,
      input: "Again",
      instructions,
      previous_response_id: reply.id,
      max_output_tokens: 3,
    });
    const turns = await history(gateway.url, sessionOf(next.id));
    assertEquals(turns[1]!.sent.prompt.filter((m) => m.content === instructions).length, 1);
  });
});

Deno.test("a request too big for one turn is refused, and its conversation goes on", async () => {
  await withRig(async ({ client }) => {
    const conversation = await client.conversations.create();
    const error = await apiError(
      client.responses.create({
        model: MODEL,
        input: "Hi",
        conversation: conversation.id,
        instructions: "x".repeat(300_000),
      }),
      400,
      "input_too_large",
    );
    assertEquals(error.param, "input");
    await apiError(
      client.conversations.items.create(conversation.id, {
        items: [{ type: "message", role: "user", content: "y".repeat(400_000) }],
      }),
      400,
      "input_too_large",
    );
    const updated = await client.conversations.update(conversation.id, { metadata: { ok: "1" } });
    assertEquals(updated.metadata, { ok: "1" });
    const reply = await client.responses.create({
      model: MODEL,
      input: "Hi",
      conversation: conversation.id,
      max_output_tokens: 3,
    });
    assertEquals((await client.conversations.items.list(conversation.id)).data.length, 2);
    assertEquals(reply.conversation, { id: conversation.id });
  });
});

Deno.test("a reply's function_call items are answered with function_call_output in the next response", async () => {
  await withRig(async ({ client, gateway }) => {
    const first = await client.responses.create({
      model: MODEL,
      input: "Weather in Paris and Oslo?",
      tools: [WEATHER_TOOL, TIME_TOOL],
      tool_choice: "required",
    });
    assertEquals(first.status, "completed");
    const calls = callsOf(first);
    assert(calls.length >= 1);
    for (const call of calls) {
      assert(call.name === "get_weather" || call.name === "get_time", call.name);
      assertEquals(Object.keys(JSON.parse(call.arguments)), ["city"]);
      assert(/^fc_[0-9a-f]{48}$/.test(call.id!), call.id);
    }
    assertEquals(first.tools.map((t) => t.type === "function" && t.name), [
      "get_weather",
      "get_time",
    ]);
    const second = await client.responses.create({
      model: MODEL,
      previous_response_id: first.id,
      input: answers(first, (c) => `{"city": ${JSON.stringify(c.arguments)}, "celsius": 12}`),
      tools: [WEATHER_TOOL, TIME_TOOL],
      tool_choice: "none",
    });
    assertEquals(second.previous_response_id, first.id);
    assertEquals(sessionOf(second.id), sessionOf(first.id));
    assertEquals(second.output.map((o) => o.type), ["message"]);
    const items = await inputItems(client, second.id);
    assertEquals(
      items.map((i) => i.type === "function_call_output" && i.call_id),
      calls.map((c) => c.call_id),
    );
    const turns = await history(gateway.url, sessionOf(second.id));
    assertEquals(turns[1]!.sent.prompt.map((m) => m.role), [
      "user",
      "assistant",
      ...calls.map(() => "tool"),
    ]);
    // A named tool choice without parallel calls makes exactly one call to that tool.
    const third = await client.responses.create({
      model: MODEL,
      previous_response_id: second.id,
      input: "And the time in Oslo?",
      tools: [WEATHER_TOOL, TIME_TOOL],
      tool_choice: { type: "function", name: "get_time" },
      parallel_tool_calls: false,
    });
    assertEquals(callsOf(third).map((c) => c.name), ["get_time"]);
    assertEquals(third.parallel_tool_calls, false);
    // Its call is open: a next response that answers something else is refused.
    await apiError(
      client.responses.create({
        model: MODEL,
        previous_response_id: third.id,
        input: [{ type: "function_call_output", call_id: "call_unknown", output: "x" }],
      }),
      400,
      "invalid_tool_pairing",
    );
  });
});

Deno.test("responses racing on one previous_response_id all answer: one continues it, the others branch", async () => {
  await withRig(async ({ client }) => {
    const first = await client.responses.create({
      model: MODEL,
      input: "Root",
      max_output_tokens: 3,
    });
    const branches = await Promise.all(
      ["A", "B", "C", "D"].map((input) =>
        client.responses.create({
          model: MODEL,
          input,
          previous_response_id: first.id,
          max_output_tokens: 20,
        })
      ),
    );
    const root = sessionOf(first.id);
    assertEquals(branches.filter((r) => sessionOf(r.id) === root).length, 1);
    assertEquals(new Set(branches.map((r) => sessionOf(r.id))).size, 4);
    const rootItems = await client.conversations.items.list(root, { order: "asc" });
    const start = rootItems.data.slice(0, 2).map(textOf);
    assertEquals(start, ["Root", first.output_text]);
    for (const [i, reply] of branches.entries()) {
      assertEquals(reply.previous_response_id, first.id);
      assertEquals(parseResponseId(reply.id)?.turn, 2);
      assertEquals(wire(await client.responses.retrieve(reply.id)), wire(reply));
      // Each branch holds the root turn, then its own.
      const items = await client.conversations.items.list(sessionOf(reply.id), { order: "asc" });
      assertEquals(items.data.map(textOf), [...start, ["A", "B", "C", "D"][i], reply.output_text]);
    }
  });
});

Deno.test("previous_response_id and conversation together are refused with OpenAI's 400", async () => {
  await withRig(async ({ client, gateway }) => {
    const first = await client.responses.create({
      model: MODEL,
      input: "Hi",
      max_output_tokens: 3,
    });
    const conversation = await client.conversations.create({});
    const error = await errorBody(
      await send(`${gateway.url}/v1/responses`, "POST", {
        model: MODEL,
        input: "Again",
        previous_response_id: first.id,
        conversation: conversation.id,
      }),
      400,
      "mutually_exclusive_parameters",
    );
    assertEquals(error, {
      message:
        "Mutually exclusive parameters. Ensure you are only providing one of: 'previous_response_id' or 'conversation'.",
      type: "invalid_request_error",
      param: null,
      code: "mutually_exclusive_parameters",
    });
    // Neither the session nor the conversation took a turn.
    const items = await client.conversations.items.list(conversation.id);
    assertEquals(items.data, []);
    assertEquals((await history(gateway.url, sessionOf(first.id))).length, 1);
  });
});

Deno.test("store: false answers a Response but leaves nothing retrievable", async () => {
  await withRig(async ({ client, gateway }) => {
    const sessions = await sessionIds(gateway.url);
    const lone = await client.responses.create({
      model: MODEL,
      input: "Forget me",
      store: false,
      max_output_tokens: 4,
    });
    assertEquals(lone.status, "incomplete");
    assertEquals((lone as Reply & { store: boolean }).store, false);
    assert(lone.output_text.length > 0);
    await apiError(client.responses.retrieve(lone.id), 404, "response_not_found");
    await apiError(client.responses.inputItems.list(lone.id), 404, "response_not_found");
    await apiError(client.responses.delete(lone.id), 404, "response_not_found");
    await apiError(
      client.responses.create({ model: MODEL, input: "Again", previous_response_id: lone.id }),
      404,
      "previous_response_not_found",
    );
    // Streamed, it is gone too once the stream ends.
    const stream = await client.responses.create({
      model: MODEL,
      input: "Forget me too",
      store: false,
      stream: true,
    });
    let streamed: Reply | undefined;
    for await (const event of stream) {
      if (event.type === "response.completed") streamed = event.response;
    }
    assert(streamed);
    await apiError(client.responses.retrieve(streamed.id), 404, "response_not_found");
    assertEquals(await sessionIds(gateway.url), sessions);
    // On a chain, an unstored Response leaves the chain as it was.
    const first = await client.responses.create({
      model: MODEL,
      input: "One",
      max_output_tokens: 3,
    });
    const aside = await client.responses.create({
      model: MODEL,
      input: "Aside",
      previous_response_id: first.id,
      store: false,
      max_output_tokens: 3,
    });
    assertEquals(aside.previous_response_id, first.id);
    await apiError(client.responses.retrieve(aside.id), 404, "response_not_found");
    const second = await client.responses.create({
      model: MODEL,
      input: "Two",
      previous_response_id: first.id,
      max_output_tokens: 3,
    });
    assertEquals(second.id, responseId(sessionOf(first.id), 2));
    const turns = await history(gateway.url, sessionOf(first.id));
    assertEquals(turns.map((t) => t.input), [
      [{ role: "user", content: "One" }],
      [{ role: "user", content: "Two" }],
    ]);
    // Nor does it add to a conversation.
    const conversation = await client.conversations.create({
      items: [{ type: "message", role: "user", content: "Kept" }],
    });
    const unstored = await client.responses.create({
      model: MODEL,
      input: "Not kept",
      conversation: conversation.id,
      store: false,
      max_output_tokens: 3,
    });
    assertEquals(unstored.conversation, { id: conversation.id });
    const items = await client.conversations.items.list(conversation.id);
    assertEquals(items.data.length, 1);
  });
});

Deno.test("stream: true sends created, text deltas and completed, and completed carries the stored Response", async () => {
  await withRig(async ({ client }) => {
    const stream = await client.responses.create({
      model: MODEL,
      input: "Tell me a short story",
      stream: true,
    });
    const events: StreamEvent[] = [];
    for await (const event of stream) events.push(event);
    assertEquals(events[0]!.type, "response.created");
    const last = events.at(-1)!;
    assert(last.type === "response.completed", last.type);
    const numbers = events.map((e) => e.sequence_number);
    assertEquals(numbers, numbers.map((_, i) => i));
    const text = events.flatMap((e) => e.type === "response.output_text.delta" ? [e.delta] : [])
      .join("");
    assert(text.length > 0);
    const done = events.find((e) => e.type === "response.output_text.done");
    assertEquals(done?.type === "response.output_text.done" && done.text, text);
    const created = events[0]!;
    assert(created.type === "response.created");
    assertEquals(created.response.id, last.response.id);
    assertEquals(created.response.status, "in_progress");
    const stored = await client.responses.retrieve(last.response.id);
    assertEquals(stored.output_text, text);
    assertEquals(wire(stored), wire(last.response));
    // The SDK's own accumulator rebuilds the same Response from the events.
    const runner = client.responses.stream({
      model: MODEL,
      input: "Another story",
      previous_response_id: stored.id,
    });
    const final = await runner.finalResponse();
    assertEquals(final.previous_response_id, stored.id);
    // (It adds its own `parsed` fields, so the comparison is of what the gateway sent.)
    const again = await client.responses.retrieve(final.id);
    assertEquals(again.output_text, final.output_text);
    assertEquals(again.output.map((o) => o.id), final.output.map((o) => o.id));
    assertEquals(again.usage, final.usage);
  });
});

Deno.test("stream: true streams function calls' arguments as deltas and completes with them", async () => {
  await withRig(async ({ client }) => {
    const stream = await client.responses.create({
      model: MODEL,
      input: "Weather in three cities?",
      tools: [WEATHER_TOOL],
      tool_choice: "required",
      stream: true,
    });
    const events: StreamEvent[] = [];
    for await (const event of stream) events.push(event);
    const types = new Set(events.map((e) => e.type));
    for (
      const type of [
        "response.created",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
      ]
    ) assert(types.has(type as StreamEvent["type"]), type);
    const last = events.at(-1)!;
    assert(last.type === "response.completed", last.type);
    const calls = callsOf(last.response);
    assert(calls.length >= 1);
    for (const call of calls) {
      const deltas = events.flatMap((e) =>
        e.type === "response.function_call_arguments.delta" && e.item_id === call.id
          ? [e.delta]
          : []
      );
      assert(deltas.length > 1, "arguments arrive in several deltas");
      assertEquals(deltas.join(""), call.arguments);
      JSON.parse(call.arguments);
    }
    assertEquals(wire(await client.responses.retrieve(last.response.id)), wire(last.response));
    // The streamed calls are answered like any others.
    const next = await client.responses.create({
      model: MODEL,
      previous_response_id: last.response.id,
      input: answers(last.response, () => "sunny"),
      tools: [WEATHER_TOOL],
      tool_choice: "none",
      stream: true,
    });
    let completed: Reply | undefined;
    for await (const event of next) {
      if (event.type === "response.completed") completed = event.response;
    }
    assertEquals(completed?.output.map((o) => o.type), ["message"]);
    assertEquals(completed?.previous_response_id, last.response.id);
  });
});

Deno.test("truncation disabled refuses a prompt over the session's budget, and auto compacts it", async () => {
  await withRig(async ({ client, gateway }) => {
    const created = await send(`${gateway.url}/v1/sessions`, "POST", {
      model: MODEL,
      compression: { method: "sliding_window", budget_tokens: 400, keep_recent_turns: 1 },
    });
    assertEquals(created.status, 201);
    const session = (await created.json()).id as string;
    const long = "word ".repeat(60);
    const turn = (truncation: "auto" | "disabled") =>
      client.responses.create({
        model: MODEL,
        input: long,
        conversation: session,
        max_output_tokens: 20,
        truncation,
      });
    let refusal;
    for (let i = 0; i < 10 && refusal === undefined; i++) {
      const answered = await turn("disabled").then(() => undefined, (error) => error);
      if (answered !== undefined) refusal = answered;
    }
    assert(refusal !== undefined, "truncation disabled never refused");
    const error = await apiError(Promise.reject(refusal), 400, "context_length_exceeded");
    assertEquals(error.param, "input");
    const before = await (await fetch(`${gateway.url}/v1/sessions/${session}`)).json();
    assertEquals(before.usage.compactions, 0);
    const turns = before.turns;
    const compacted = await turn("auto");
    assertEquals(compacted.truncation, "auto");
    const after = await (await fetch(`${gateway.url}/v1/sessions/${session}`)).json();
    assertEquals(after.turns, turns + 1);
    assertEquals(after.usage.compactions, 1);
    const sent = (await history(gateway.url, session)).at(-1)!.sent.prompt;
    assert(sent.length < 2 * after.turns, `${sent.length} messages were not compacted`);
    // The conversation keeps every item; only the prompt was compacted.
    const items = await client.conversations.items.list(session, { limit: 100 });
    assertEquals(items.data.length, 2 * after.turns);
    // A new Response over the model's whole budget is refused and leaves no session.
    const listed = () => sessionIds(gateway.url);
    const sessions = await listed();
    await apiError(
      client.responses.create({ model: MODEL, input: "Hi", max_output_tokens: 140_000 }),
      400,
      "context_length_exceeded",
    ).then((e) => assertEquals(e.param, "input"));
    assertEquals(await listed(), sessions);
  });
});

Deno.test("a chain begun with truncation auto compacts past its budget; one begun disabled is refused", async () => {
  const rig = await startRig({ sessions: { compression: { budget_tokens: 400 } } });
  try {
    const { client, gateway } = rig;
    const long = "word ".repeat(60);
    const chain = async (truncation: "auto" | "disabled") => {
      let previous: string | undefined;
      for (let i = 0; i < 8; i++) {
        const reply = await client.responses.create({
          model: MODEL,
          input: long,
          max_output_tokens: 20,
          truncation,
          ...(previous ? { previous_response_id: previous } : {}),
        });
        assertEquals(reply.truncation, truncation);
        previous = reply.id;
      }
      return previous!;
    };
    const auto = await chain("auto");
    const session = await (await fetch(`${gateway.url}/v1/sessions/${sessionOf(auto)}`)).json();
    assertEquals(session.turns, 8);
    assert(session.usage.compactions >= 1, JSON.stringify(session.usage));
    const error = await apiError(chain("disabled"), 400, "context_length_exceeded");
    assertEquals(error.param, "input");
    assert(error.message.includes("budget of 400 tokens"), error.message);
    assert(error.message.includes('truncation: "auto"'), error.message);
  } finally {
    await rig.close();
  }
});

Deno.test("a replica's own refusal reaches the client as an OpenAI error and leaves no session", async () => {
  const rig = await startRig({ replicas: 1, sim: { maxModelLen: 200 } });
  try {
    const before = await sessionIds(rig.gateway.url);
    const response = await send(`${rig.gateway.url}/v1/responses`, "POST", {
      model: MODEL,
      input: "word ".repeat(400),
    });
    const error = await errorBody(response, 400, "backend_rejected");
    assert(error.message.includes("maximum context length"), error.message);
    assertEquals(error.type, "invalid_request_error");
    assertEquals(await sessionIds(rig.gateway.url), before);
  } finally {
    await rig.close();
  }
});

Deno.test("DELETE /v1/responses/:id removes one Response; GET and input_items then answer 404", async () => {
  await withRig(async ({ client }) => {
    const first = await client.responses.create({
      model: MODEL,
      input: "One",
      max_output_tokens: 3,
    });
    const second = await client.responses.create({
      model: MODEL,
      input: "Two",
      previous_response_id: first.id,
      max_output_tokens: 3,
    });
    // The SDK types the answer as void; the wire carries OpenAI's deletion object.
    const deleted: unknown = await client.responses.delete(first.id);
    assertEquals(deleted, { id: first.id, object: "response", deleted: true });
    await apiError(client.responses.retrieve(first.id), 404, "response_not_found");
    await apiError(client.responses.inputItems.list(first.id), 404, "response_not_found");
    await apiError(client.responses.delete(first.id), 404, "response_not_found");
    await apiError(
      client.responses.create({ model: MODEL, input: "x", previous_response_id: first.id }),
      404,
      "previous_response_not_found",
    );
    // The Response after it stands, and its chain goes on.
    assertEquals(wire(await client.responses.retrieve(second.id)), wire(second));
    const third = await client.responses.create({
      model: MODEL,
      input: "Three",
      previous_response_id: second.id,
      max_output_tokens: 3,
    });
    assertEquals(parseResponseId(third.id)?.turn, 3);
  });
});

Deno.test("unknown and malformed Response ids are OpenAI-shaped 404s, and bad bodies 400s", async () => {
  await withRig(async ({ client, gateway }) => {
    const reply = await client.responses.create({
      model: MODEL,
      input: "Hi",
      max_output_tokens: 3,
    });
    const session = sessionOf(reply.id);
    const chatTurn = await send(`${gateway.url}/v1/sessions/${session}/chat`, "POST", {
      message: "A chat turn, not a Response",
      max_tokens: 3,
    });
    assertEquals(chatTurn.status, 200);
    await chatTurn.body?.cancel();
    const unknown = [
      "resp_nope",
      "resp_",
      responseId(session, 99),
      responseId(session, 2),
      responseId("conv_000000000000000000000000", 1),
      `resp_${"ff".repeat(20)}_1`,
      `resp_${"61".repeat(300)}_1`,
      "x".repeat(5_000),
      "%F0%9F%98%80",
    ];
    for (const id of unknown) {
      for (const [method, path] of [["GET", ""], ["DELETE", ""], ["GET", "/input_items"]]) {
        const response = await send(`${gateway.url}/v1/responses/${id}${path}`, method!);
        await errorBody(response, 404, "response_not_found");
      }
    }
    const url = `${gateway.url}/v1/responses`;
    const bad: [unknown, number, string][] = [
      ["{not json", 400, "invalid_json"],
      [[], 400, "invalid_request"],
      [{ input: "Hi" }, 400, "invalid_request"],
      [{ model: MODEL, input: 5 }, 400, "invalid_request"],
      [{ model: MODEL, input: [{ type: "web_search_call" }] }, 400, "invalid_request"],
      [{ model: MODEL, input: "Hi", tools: [{ type: "function" }] }, 400, "invalid_request"],
      [{ model: MODEL, input: "Hi", truncation: "sometimes" }, 400, "invalid_request"],
      [{ model: MODEL, input: "Hi", temperature: 9 }, 400, "invalid_request"],
      [{ model: MODEL, input: "Hi", store: "yes" }, 400, "invalid_request"],
      [{ model: MODEL, input: "Hi", tool_choice: "required" }, 400, "invalid_tool_choice"],
      [
        { model: MODEL, input: "Hi", tool_choice: { type: "function", name: "get_weather" } },
        400,
        "invalid_tool_choice",
      ],
      [
        {
          model: MODEL,
          input: "Hi",
          tools: [WEATHER_TOOL],
          tool_choice: { type: "function", name: "get_time" },
        },
        400,
        "invalid_tool_choice",
      ],
      [{ model: MODEL, input: "x".repeat(400 * 1024) }, 400, "input_too_large"],
      [{ model: MODEL, input: [] }, 400, "missing_input"],
      [{ model: MODEL }, 400, "missing_input"],
      [{ model: "no-such-model", input: "Hi" }, 404, "model_not_found"],
      [
        { model: MODEL, input: "Hi", previous_response_id: "resp_nope" },
        404,
        "previous_response_not_found",
      ],
      [{ model: MODEL, input: "Hi", conversation: "conv_nope" }, 404, "conversation_not_found"],
      [{ model: MODEL, input: "Hi", conversation: { id: "../x" } }, 404, "conversation_not_found"],
      [
        { model: MODEL, input: [{ type: "function_call_output", call_id: "c", output: "x" }] },
        400,
        "invalid_tool_pairing",
      ],
    ];
    for (const [body, status, code] of bad) {
      await errorBody(await send(url, "POST", body), status, code);
    }
    const error = await errorBody(
      await send(url, "POST", { model: MODEL, input: "Hi", previous_response_id: "resp_nope" }),
      404,
      "previous_response_not_found",
    );
    assertEquals(error.param, "previous_response_id");
    await errorBody(
      await send(`${url}/${reply.id}/input_items?limit=0`, "GET"),
      400,
      "invalid_request",
    );
    await errorBody(
      await send(`${url}/${reply.id}/input_items?after=msg_nope`, "GET"),
      404,
      "item_not_found",
    );
  });
});

/** Compact signature of a prompt message: who, and which calls or results it carries. */
function shape(m: HistoryTurn["sent"]["prompt"][number]): string {
  const raw = m as { role: string; tool_calls?: { id: string }[]; tool_call_id?: string };
  if (raw.role === "tool") return `tool:${raw.tool_call_id}`;
  if (raw.tool_calls) return `calls:${raw.tool_calls.map((c) => c.id).join(",")}`;
  return raw.role;
}

Deno.test("a chain of ten function-calling responses survives a gateway restart, whole and in order", async () => {
  const rig = await startRig({ replicas: 3 });
  try {
    // The first half of the chain runs on two replicas, the second half on the third alone.
    const [first, second, third] = rig.sims as [SimServer, SimServer, SimServer];
    await rig.restart({ sims: [first, second] });
    const replies: Reply[] = [];
    const inputs: InputItem[][] = [];
    const step = async (input: InputItem[]) => {
      const previous = replies.at(-1);
      const reply = await rig.client.responses.create({
        model: MODEL,
        input,
        tools: [WEATHER_TOOL, TIME_TOOL],
        tool_choice: "required",
        ...(previous ? { previous_response_id: previous.id } : {}),
      });
      assertEquals(reply.status, "completed");
      assertEquals(reply.previous_response_id, previous?.id ?? null);
      assert(callsOf(reply).length >= 1);
      replies.push(reply);
      inputs.push(input);
    };
    const next = () =>
      answers(replies.at(-1)!, (c) => `{"turn": ${replies.length}, "call": "${c.call_id}"}`);
    await step([{ type: "message", role: "user", content: "Plan a trip through ten cities" }]);
    while (replies.length < 5) await step(next());
    const session = sessionOf(replies[0]!.id);
    const served = (await history(rig.gateway.url, session)).map((t) => t.backend);
    const after = new URL(third.url).host;
    assert(!served.includes(after), `${served}`);
    const before = rig.gateway;
    await rig.restart({ sims: [third] });
    assert(rig.gateway !== before);
    while (replies.length < 10) await step(next());

    // One session, turns 1 to 10, each continuing the one before.
    assertEquals(
      replies.map((r) => parseResponseId(r.id)),
      replies.map((_, i) => ({ sessionId: session, turn: i + 1 })),
    );
    for (const [i, reply] of replies.entries()) {
      assertEquals(wire(await rig.client.responses.retrieve(reply.id)), wire(reply));
      const items = await inputItems(rig.client, reply.id);
      assertEquals(
        items.map((item) =>
          item.type === "function_call_output" ? item.call_id : item.type === "message" && item.role
        ),
        inputs[i]!.map((item) => "call_id" in item ? item.call_id : "user"),
      );
    }
    // The conversation view of the session lists every turn's input then output, in order.
    const listed = [];
    for await (const item of rig.client.conversations.items.list(session, { order: "asc" })) {
      listed.push(item);
    }
    const expected = [];
    for (const [i, reply] of replies.entries()) {
      expected.push(...await inputItems(rig.client, reply.id));
      expected.push(...replies[i]!.output);
    }
    assertEquals(listed, expected);
    // Each replica was sent the whole chain so far: the prompt before, its reply, and the results.
    for (let i = 1; i < replies.length; i++) {
      const [before, now] = [replies[i - 1]!.usage!, replies[i]!.usage!];
      assert(now.input_tokens > before.input_tokens + before.output_tokens, `turn ${i + 1}`);
    }
    // And the history rebuilds turn 10's prompt as the whole chain, in order.
    const turns = await history(rig.gateway.url, session);
    assertEquals(turns.map((t) => t.turn), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assertEquals(turns.slice(5).map((t) => t.backend), [after, after, after, after, after]);
    const prompt = [
      "user",
      ...replies.slice(0, 9).flatMap((r) => [
        `calls:${callsOf(r).map((c) => c.call_id).join(",")}`,
        ...callsOf(r).map((c) => `tool:${c.call_id}`),
      ]),
    ];
    assertEquals(turns[9]!.sent.prompt.map(shape), prompt);
  } finally {
    await rig.close();
  }
});

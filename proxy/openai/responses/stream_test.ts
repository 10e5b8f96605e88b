import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { completion, MODEL, request, toolChunks, withResponsesServer } from "./_testing.ts";
import { responseFromChat, type ResponseObject } from "./from_chat.ts";
import type { ResponseCreateBody } from "./schemas.ts";
import { encodeEvent, type ResponseStreamEvent, ResponseStreamTranslator } from "./stream.ts";

const options = {
  id: "resp_1",
  createdAt: 1_700_000_000,
  itemId: (p: string, i: number) => `${p}_${i}`,
};

function translate(chunks: unknown[], body: ResponseCreateBody = request()) {
  const t = new ResponseStreamTranslator(body, options);
  const events = [...t.start(), ...chunks.flatMap((c) => t.push(c)), ...t.finish()];
  return { t, events };
}

function textChunks(pieces: string[], finish = "stop"): Record<string, unknown>[] {
  return [
    ...pieces.map((content) => ({
      choices: [{ index: 0, delta: { content }, finish_reason: null }],
    })),
    { choices: [{ index: 0, delta: {}, finish_reason: finish }] },
    { choices: [], usage: { prompt_tokens: 20, completion_tokens: 7, total_tokens: 27 } },
  ];
}

function withoutCompletedAt(r: ResponseObject | undefined): unknown {
  if (!r) return r;
  const { completed_at: _at, ...rest } = r;
  return rest;
}

Deno.test("a text stream gives OpenAI's events in order, numbered from 0", () => {
  const { events } = translate(textChunks(["Hel", "lo"]));
  assertEquals(events.map((e) => e.type), [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
  ]);
  assertEquals(events.map((e) => e.sequence_number), events.map((_, i) => i));
  assertEquals(events[4], {
    type: "response.output_text.delta",
    item_id: "msg_0",
    output_index: 0,
    content_index: 0,
    delta: "Hel",
    logprobs: [],
    sequence_number: 4,
  });
  const created = events[0];
  assert(created?.type === "response.created");
  assertEquals([created.response.status, created.response.output, created.response.usage], [
    "in_progress",
    [],
    undefined,
  ]);
});

Deno.test("text then two tool calls stream as one message and two function_call items", () => {
  const { t, events } = translate(toolChunks());
  const added = events.flatMap((e) => e.type === "response.output_item.added" ? [e.item] : []);
  assertEquals(added.map((i) => [i.type, i.id]), [["message", "msg_0"], ["function_call", "fc_1"], [
    "function_call",
    "fc_2",
  ]]);
  assertEquals(added[1], {
    id: "fc_1",
    type: "function_call",
    status: "in_progress",
    arguments: "",
    call_id: "call_a",
    name: "get_weather",
  });
  const argDeltas = events.flatMap((e) =>
    e.type === "response.function_call_arguments.delta" ? [[e.item_id, e.delta]] : []
  );
  assertEquals(argDeltas, [["fc_1", '{"city": '], ["fc_1", '"Paris"}'], [
    "fc_2",
    '{"city": "Oslo"}',
  ]]);
  const argsDone = events.flatMap((e) =>
    e.type === "response.function_call_arguments.done" ? [e.arguments] : []
  );
  assertEquals(argsDone, ['{"city": "Paris"}', '{"city": "Oslo"}']);
  assertEquals(t.message, {
    role: "assistant",
    content: "Let me check.",
    tool_calls: [
      {
        id: "call_a",
        type: "function",
        function: { name: "get_weather", arguments: '{"city": "Paris"}' },
      },
      {
        id: "call_b",
        type: "function",
        function: { name: "get_weather", arguments: '{"city": "Oslo"}' },
      },
    ],
  });
  assertEquals(t.response?.usage?.total_tokens, 50);
});

Deno.test("text after a tool call opens a message item of its own", () => {
  const { t, events } = translate([
    {
      choices: [{
        index: 0,
        delta: {
          tool_calls: [{ index: 0, id: "call_a", function: { name: "f", arguments: "{}" } }],
        },
      }],
    },
    ...textChunks(["\n"]),
  ]);
  const done = events.flatMap((e) =>
    e.type === "response.output_item.done" ? [[e.output_index, e.item.id]] : []
  );
  assertEquals(done, [[0, "fc_0"], [1, "msg_1"]]);
  assertEquals(t.response?.output.map((o) => o.id), ["fc_0", "msg_1"]);
  assertEquals(t.message.content, "\n");
});

Deno.test("the final streamed Response is the one responseFromChat builds", () => {
  const { t, events } = translate(toolChunks());
  const last = events.at(-1);
  assert(last?.type === "response.completed");
  assertEquals(last.response, t.response);
  const whole = completion("Let me check.", [
    { id: "call_a", name: "get_weather", arguments: '{"city": "Paris"}' },
    { id: "call_b", name: "get_weather", arguments: '{"city": "Oslo"}' },
  ]);
  whole.usage = { prompt_tokens: 20, completion_tokens: 30, total_tokens: 50 };
  assertEquals(
    withoutCompletedAt(t.response),
    withoutCompletedAt(responseFromChat(whole, request(), options)),
  );
});

Deno.test("a length finish ends with response.incomplete", () => {
  const { events } = translate(textChunks(["Once"], "length"));
  const last = events.at(-1);
  assert(last?.type === "response.incomplete");
  assertEquals(last.response.incomplete_details, { reason: "max_output_tokens" });
  assertEquals(
    last.response.output[0]?.type === "message" && last.response.output[0].status,
    "incomplete",
  );
});

Deno.test("an empty stream still gives one empty message", () => {
  const { t, events } = translate(textChunks([]));
  assertEquals(events.map((e) => e.type).slice(2, -1), [
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
  ]);
  assertEquals(t.message, { role: "assistant", content: "" });
});

Deno.test("fail ends the stream with response.failed and keeps the output so far", () => {
  const t = new ResponseStreamTranslator(request(), options);
  const events = [...t.push(textChunks(["Hel"])[0]), ...t.fail("Upstream closed")];
  const last = events.at(-1);
  assert(last?.type === "response.failed");
  assertEquals(last.response.error, { code: "server_error", message: "Upstream closed" });
  assertEquals(
    last.response.output[0]?.type === "message" && last.response.output[0].status,
    "incomplete",
  );
  assertEquals(t.finish(), []);
});

Deno.test("encodeEvent frames an event as OpenAI's server does", () => {
  const event = { type: "response.output_text.delta", delta: "a" };
  assertEquals(
    encodeEvent(event),
    `event: response.output_text.delta\ndata: ${JSON.stringify(event)}\n\n`,
  );
});

function sse(body: ResponseCreateBody, chunks: unknown[]): Response {
  const { events } = translate(chunks, body);
  const text = events.map(encodeEvent).join("");
  return new Response(text, { headers: { "content-type": "text/event-stream" } });
}

Deno.test("the openai SDK's stream parser accepts the events", async () => {
  await withResponsesServer((body) => sse(body, toolChunks()), async (client) => {
    const stream = await client.responses.create({ model: MODEL, input: "Weather?", stream: true });
    const seen: ResponseStreamEvent["type"][] = [];
    let text = "";
    let final: unknown;
    for await (const event of stream) {
      seen.push(event.type);
      if (event.type === "response.output_text.delta") text += event.delta;
      if (event.type === "response.completed") final = event.response;
    }
    assertEquals(text, "Let me check.");
    assertEquals(seen[0], "response.created");
    assertEquals(seen.at(-1), "response.completed");
    assertEquals(seen.filter((s) => s === "response.output_item.done").length, 3);
    assert(final);
  });
});

Deno.test("the openai SDK's response accumulator rebuilds the Response from the events", async () => {
  await withResponsesServer((body) => sse(body, toolChunks()), async (client) => {
    const stream = client.responses.stream({ model: MODEL, input: "Weather?" });
    const deltas: string[] = [];
    stream.on("response.output_text.delta", (e) => deltas.push(e.delta));
    const r = await stream.finalResponse();
    assertEquals(deltas.join(""), "Let me check.");
    assertEquals(r.output_text, "Let me check.");
    const calls = r.output.flatMap((o) =>
      o.type === "function_call" ? [[o.call_id, o.arguments]] : []
    );
    assertEquals(calls, [["call_a", '{"city": "Paris"}'], ["call_b", '{"city": "Oslo"}']]);
  });
  await withResponsesServer((body) => sse(body, textChunks(["Hi", " there"])), async (client) => {
    const r = await client.responses.stream({ model: MODEL, input: "Hi" }).finalResponse();
    assertEquals([r.output_text, r.status, r.usage?.output_tokens], ["Hi there", "completed", 7]);
  });
});

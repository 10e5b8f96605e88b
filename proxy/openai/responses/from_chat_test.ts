import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import { completion, MODEL, request, WEATHER_TOOL, withResponsesServer } from "./_testing.ts";
import {
  itemId,
  itemList,
  itemsFromChat,
  responseFromChat,
  type ResponseObject,
} from "./from_chat.ts";

const ids = (prefix: string, i: number) => `${prefix}_${i}`;
const options = { id: "resp_1", createdAt: 1_700_000_000, itemId: ids };

Deno.test("responseFromChat builds a completed Response with every field OpenAI sends", () => {
  const r = responseFromChat(completion("Hello!"), request({ metadata: { k: "v" } }), options);
  const { completed_at, ...rest } = r;
  assert(typeof completed_at === "number" && completed_at >= options.createdAt);
  assertEquals(
    rest,
    {
      id: "resp_1",
      object: "response",
      created_at: 1_700_000_000,
      status: "completed",
      background: false,
      error: null,
      incomplete_details: null,
      instructions: null,
      max_output_tokens: null,
      max_tool_calls: null,
      model: MODEL,
      output: [{
        id: "msg_0",
        type: "message",
        status: "completed",
        role: "assistant",
        content: [{ type: "output_text", text: "Hello!", annotations: [], logprobs: [] }],
      }],
      parallel_tool_calls: true,
      previous_response_id: null,
      conversation: null,
      store: true,
      temperature: null,
      text: { format: { type: "text" } },
      tool_choice: "auto",
      tools: [],
      top_p: null,
      truncation: "disabled",
      metadata: { k: "v" },
      access_programs: null,
      usage: {
        input_tokens: 20,
        input_tokens_details: { cached_tokens: 16, cache_write_tokens: 0 },
        output_tokens: 7,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 27,
      },
    } satisfies Omit<ResponseObject, "completed_at">,
  );
});

Deno.test("responseFromChat echoes the request's settings", () => {
  const body = request({
    instructions: "Be brief",
    conversation: "conv_1",
    tools: [WEATHER_TOOL],
    tool_choice: { type: "function", name: "get_weather" },
    parallel_tool_calls: false,
    store: false,
    truncation: "auto",
    max_output_tokens: 32,
    temperature: 0.3,
    top_p: 0.8,
    user: "u1",
  });
  const r = responseFromChat(completion("x"), body, options);
  assertEquals(r.conversation, { id: "conv_1" });
  assertEquals(r.tools, [{ ...WEATHER_TOOL, parameters: { ...WEATHER_TOOL.parameters } }]);
  assertEquals(r.tool_choice, { type: "function", name: "get_weather" });
  assertEquals(
    [r.instructions, r.parallel_tool_calls, r.store, r.truncation, r.max_output_tokens],
    ["Be brief", false, false, "auto", 32],
  );
  assertEquals([r.temperature, r.top_p, r.user], [0.3, 0.8, "u1"]);
});

Deno.test("tool calls become function_call items after the text", () => {
  const calls = [
    { id: "call_a", name: "get_weather", arguments: '{"city":"Paris"}' },
    { id: "call_b", name: "get_weather", arguments: '{"city":"Oslo"}' },
  ];
  const r = responseFromChat(completion("Checking.", calls), request(), options);
  assertEquals(r.output.map((o) => [o.type, o.id]), [
    ["message", "msg_0"],
    ["function_call", "fc_1"],
    ["function_call", "fc_2"],
  ]);
  assertEquals(r.output[2], {
    id: "fc_2",
    type: "function_call",
    status: "completed",
    arguments: '{"city":"Oslo"}',
    call_id: "call_b",
    name: "get_weather",
  });
  const bare = responseFromChat(completion(null, calls.slice(0, 1)), request(), options);
  assertEquals(bare.output.map((o) => o.type), ["function_call"]);
});

Deno.test("a length finish makes the Response and its last item incomplete", () => {
  const r = responseFromChat(completion("Once upon", [], "length"), request(), options);
  assertEquals([r.status, r.incomplete_details, r.completed_at], [
    "incomplete",
    { reason: "max_output_tokens" },
    null,
  ]);
  const [message] = r.output;
  assert(message?.type === "message");
  assertEquals(message.status, "incomplete");
});

Deno.test("an empty completion is one empty message", () => {
  const r = responseFromChat(completion(null), request(), options);
  assertEquals(r.output.map((o) => o.type === "message" && o.content), [[{
    type: "output_text",
    text: "",
    annotations: [],
    logprobs: [],
  }]]);
});

Deno.test("responseFromChat rejects a body that is not a chat completion", () => {
  throws(() => responseFromChat({ choices: [] }, request(), options));
  throws(() => responseFromChat({ error: { message: "boom" } }, request(), options));
});

Deno.test("itemId is stable, opaque and carries its prefix", () => {
  const id = itemId("msg", "sess_1", 3, 0);
  assertEquals(id, itemId("msg", "sess_1", 3, 0));
  assert(/^msg_[0-9a-f]{48}$/.test(id));
  const others = [
    itemId("msg", "sess_1", 3, 1),
    itemId("msg", "sess_1", 4, 0),
    itemId("msg", "sess_2", 3, 0),
    itemId("fc", "sess_1", 3, 0),
  ];
  assertEquals(new Set([id, ...others]).size, 5);
  assert(!id.includes("sess_1"));
});

Deno.test("a turn's conversation items reuse the ids of the Response's output items", () => {
  const sessionId = "sess_1";
  const turn = 2;
  const turnIds = (prefix: string, i: number) => itemId(prefix, sessionId, turn, i);
  const calls = [{ id: "call_a", name: "get_weather", arguments: "{}" }];
  const body = request({ input: "Weather?" });
  const r = responseFromChat(completion("Checking.", calls), body, {
    id: "resp_1",
    itemId: (prefix, i) => turnIds(prefix, 1 + i),
  });
  const listed = itemsFromChat([
    { role: "user", content: "Weather?" },
    {
      role: "assistant",
      content: "Checking.",
      tool_calls: [{
        id: "call_a",
        type: "function",
        function: { name: "get_weather", arguments: "{}" },
      }],
    },
  ], turnIds);
  assertEquals(listed.slice(1).map((i) => i.id), r.output.map((o) => o.id));
  assertEquals(listed[0], {
    id: turnIds("msg", 0),
    type: "message",
    status: "completed",
    role: "user",
    content: [{ type: "input_text", text: "Weather?" }],
  });
  assertEquals(itemList(listed), {
    object: "list",
    data: listed,
    first_id: turnIds("msg", 0),
    last_id: turnIds("fc", 2),
    has_more: false,
  });
  assertEquals(itemList([]).first_id, null);
});

Deno.test("the openai SDK reads output_text and the function calls of a Response", async () => {
  const calls = [{ id: "call_a", name: "get_weather", arguments: '{"city":"Paris"}' }];
  await withResponsesServer(
    (body) =>
      Response.json(responseFromChat(completion("Checking the weather.", calls), body, options)),
    async (client) => {
      const r = await client.responses.create({ model: MODEL, input: "Weather in Paris?" });
      assertEquals(r.output_text, "Checking the weather.");
      assertEquals(r.id, "resp_1");
      const parsed = await client.responses.parse({
        model: MODEL,
        input: "Weather in Paris?",
        tools: [WEATHER_TOOL],
      });
      const fc = parsed.output.find((o) => o.type === "function_call");
      assert(fc?.type === "function_call");
      assertEquals([fc.call_id, fc.name, fc.parsed_arguments], ["call_a", "get_weather", {
        city: "Paris",
      }]);
    },
  );
});

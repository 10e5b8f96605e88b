import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import type OpenAI from "openai";
import { MODEL, WEATHER_TOOL } from "./_testing.ts";
import {
  ConversationCreateBodySchema,
  conversationId,
  ConversationItemsBodySchema,
  ConversationUpdateBodySchema,
  exclusiveParamsError,
  ResponseCreateBodySchema,
  toolChoiceError,
} from "./schemas.ts";

Deno.test("ResponseCreateBodySchema fills OpenAI's defaults and keeps unknown fields", () => {
  const body = ResponseCreateBodySchema.parse({ model: MODEL, input: "Hi", seed: 7 });
  assertEquals(body.store, true);
  assertEquals(body.truncation, "disabled");
  assertEquals(body.seed, 7);
  const nulls = ResponseCreateBodySchema.parse({ model: MODEL, store: null, truncation: null });
  assertEquals([nulls.store, nulls.truncation], [true, "disabled"]);
});

Deno.test("ResponseCreateBodySchema accepts a body typed as the SDK's create params", () => {
  const params: OpenAI.Responses.ResponseCreateParamsNonStreaming = {
    model: MODEL,
    instructions: "Be brief",
    input: [
      { role: "user", content: "Weather in Paris?" },
      { type: "message", role: "developer", content: [{ type: "input_text", text: "Use tools" }] },
      { type: "function_call", call_id: "call_a", name: "get_weather", arguments: "{}" },
      { type: "function_call_output", call_id: "call_a", output: "sunny" },
      {
        type: "function_call_output",
        call_id: "call_b",
        output: [{ type: "input_text", text: "rain" }],
      },
    ],
    tools: [WEATHER_TOOL],
    tool_choice: { type: "function", name: "get_weather" },
    parallel_tool_calls: false,
    store: false,
    truncation: "auto",
    max_output_tokens: 64,
    temperature: 0.2,
    top_p: 0.9,
    metadata: { task: "t1" },
    user: "u1",
    previous_response_id: "resp_1",
  };
  const body = ResponseCreateBodySchema.parse(params);
  assertEquals(Array.isArray(body.input) ? body.input.length : 0, 5);
  assertEquals([body.store, body.truncation], [false, "auto"]);
});

Deno.test("ResponseCreateBodySchema rejects what it cannot translate to chat", () => {
  const bad = [
    { model: MODEL, input: [{ role: "tool", content: "x" }] },
    { model: MODEL, input: [{ type: "reasoning", summary: [] }] },
    { model: MODEL, tools: [{ type: "web_search" }] },
    { model: MODEL, tool_choice: "sometimes" },
    { model: MODEL, input: [{ type: "function_call_output", output: "x" }] },
    { model: "", input: "Hi" },
  ];
  for (const body of bad) assert(!ResponseCreateBodySchema.safeParse(body).success);
});

Deno.test("metadata is held to 16 keys of 64 characters and values of 512", () => {
  const many = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"]));
  assert(!ResponseCreateBodySchema.safeParse({ model: MODEL, metadata: many }).success);
  const longKey = { ["k".repeat(65)]: "v" };
  assert(!ResponseCreateBodySchema.safeParse({ model: MODEL, metadata: longKey }).success);
  const longValue = { k: "v".repeat(513) };
  assert(!ResponseCreateBodySchema.safeParse({ model: MODEL, metadata: longValue }).success);
});

Deno.test("exclusiveParamsError answers OpenAI's 400 only when both are given", () => {
  const both = ResponseCreateBodySchema.parse({
    model: MODEL,
    previous_response_id: "resp_1",
    conversation: { id: "conv_1" },
  });
  assertEquals(exclusiveParamsError(both), {
    message:
      "Mutually exclusive parameters. Ensure you are only providing one of: 'previous_response_id' or 'conversation'.",
    param: null,
    code: "mutually_exclusive_parameters",
  });
  assertEquals(exclusiveParamsError({ previous_response_id: "resp_1" }), undefined);
  assertEquals(
    exclusiveParamsError({ conversation: "conv_1", previous_response_id: null }),
    undefined,
  );
});

Deno.test("toolChoiceError refuses a tool choice that no tool of the request satisfies", () => {
  const tools = [WEATHER_TOOL];
  const named = (name: string) => ({ type: "function" as const, name });
  for (const choice of [undefined, "auto", "none"] as const) {
    assertEquals(toolChoiceError({ tool_choice: choice }), undefined);
  }
  assertEquals(toolChoiceError({ tools, tool_choice: "required" }), undefined);
  assertEquals(toolChoiceError({ tools, tool_choice: named("get_weather") }), undefined);
  for (
    const body of [
      { tool_choice: "required" as const },
      { tools: [], tool_choice: "required" as const },
      { tool_choice: named("get_weather") },
      { tools, tool_choice: named("get_time") },
    ]
  ) {
    const error = toolChoiceError(body);
    assertEquals(error?.param, "tool_choice");
    assertEquals(error?.code, "invalid_tool_choice");
  }
  assert(
    toolChoiceError({ tools, tool_choice: named("get_time") })!.message.includes("'get_weather'"),
  );
});

Deno.test("conversationId reads both spellings of conversation", () => {
  assertEquals(conversationId({ conversation: "conv_1" }), "conv_1");
  assertEquals(conversationId({ conversation: { id: "conv_2" } }), "conv_2");
  assertEquals(conversationId({}), undefined);
});

Deno.test("the conversation bodies take up to 20 items and metadata", () => {
  const item = { role: "user", content: "Hi" };
  assertEquals(ConversationCreateBodySchema.parse({}), {});
  const created = ConversationCreateBodySchema.parse({ items: [item], metadata: { a: "b" } });
  assertEquals(created.items?.length, 1);
  assert(!ConversationCreateBodySchema.safeParse({ items: Array(21).fill(item) }).success);
  assertEquals(ConversationUpdateBodySchema.parse({ metadata: null }).metadata, null);
  assert(!ConversationUpdateBodySchema.safeParse({}).success);
  assertEquals(ConversationItemsBodySchema.parse({ items: [item] }).items.length, 1);
  assert(!ConversationItemsBodySchema.safeParse({ items: [] }).success);
});

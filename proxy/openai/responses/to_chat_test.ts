import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { type ChatMessage, checkToolPairs } from "../../../actors/session/messages.ts";
import { MODEL, request, WEATHER_TOOL } from "./_testing.ts";
import { itemsFromChat } from "./from_chat.ts";
import { type InputItem, InputItemSchema } from "./schemas.ts";
import {
  chatRequest,
  chatToolChoice,
  chatTools,
  inputItems,
  itemsToMessages,
  withInstructions,
} from "./to_chat.ts";

const items = (raw: unknown[]): InputItem[] => raw.map((i) => InputItemSchema.parse(i));
const call = (id: string, city: string) => ({
  type: "function_call",
  call_id: id,
  name: "get_weather",
  arguments: JSON.stringify({ city }),
});

Deno.test("inputItems reads a string as one user message", () => {
  assertEquals(inputItems("Hi"), [{ type: "message", role: "user", content: "Hi" }]);
  assertEquals(inputItems(undefined), []);
});

Deno.test("consecutive function calls join the assistant message before them", () => {
  const messages = itemsToMessages(items([
    { role: "user", content: "Paris and Oslo?" },
    { type: "message", role: "assistant", content: [{ type: "output_text", text: "Checking." }] },
    call("call_a", "Paris"),
    call("call_b", "Oslo"),
    { type: "function_call_output", call_id: "call_a", output: "sunny" },
    { type: "function_call_output", call_id: "call_b", output: "rain" },
  ]));
  assertEquals(messages, [
    { role: "user", content: "Paris and Oslo?" },
    {
      role: "assistant",
      content: "Checking.",
      tool_calls: [
        {
          id: "call_a",
          type: "function",
          function: { name: "get_weather", arguments: '{"city":"Paris"}' },
        },
        {
          id: "call_b",
          type: "function",
          function: { name: "get_weather", arguments: '{"city":"Oslo"}' },
        },
      ],
    },
    { role: "tool", tool_call_id: "call_a", content: "sunny" },
    { role: "tool", tool_call_id: "call_b", content: "rain" },
  ]);
  assertEquals(checkToolPairs(messages), { ok: true, open: [] });
});

Deno.test("function calls after a tool result start an assistant message of their own", () => {
  const messages = itemsToMessages(items([
    { role: "assistant", content: "One." },
    { role: "user", content: "Go" },
    call("call_a", "Paris"),
    { type: "function_call_output", call_id: "call_a", output: "sunny" },
    call("call_b", "Oslo"),
  ]));
  assertEquals(messages.map((m) => [m.role, m.content ?? null]), [
    ["assistant", "One."],
    ["user", "Go"],
    ["assistant", null],
    ["tool", "sunny"],
    ["assistant", null],
  ]);
});

Deno.test("several content parts stay parts, one part becomes a string", () => {
  const messages = itemsToMessages(items([
    {
      role: "user",
      content: [{ type: "input_text", text: "a" }, { type: "input_text", text: "b" }],
    },
    { type: "function_call_output", call_id: "c", output: [{ type: "input_text", text: "x" }] },
  ]));
  assertEquals(messages, [
    { role: "user", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] },
    { role: "tool", tool_call_id: "c", content: "x" },
  ]);
});

Deno.test("withInstructions puts a system message first", () => {
  const user: ChatMessage = { role: "user", content: "Hi" };
  assertEquals(withInstructions([user], "Be brief"), [
    { role: "system", content: "Be brief" },
    user,
  ]);
  assertEquals(withInstructions([user], null), [user]);
});

Deno.test("chatTools and chatToolChoice give the chat shapes", () => {
  assertEquals(chatTools([WEATHER_TOOL, { type: "function", name: "noop" }]), [
    {
      type: "function",
      function: {
        name: "get_weather",
        description: "Weather for a city",
        parameters: WEATHER_TOOL.parameters,
        strict: true,
      },
    },
    { type: "function", function: { name: "noop" } },
  ]);
  assertEquals(chatToolChoice("required"), "required");
  assertEquals(chatToolChoice({ type: "function", name: "noop" }), {
    type: "function",
    function: { name: "noop" },
  });
});

Deno.test("chatRequest maps the sampling fields and asks a stream for its usage", () => {
  const body = request({
    tools: [WEATHER_TOOL],
    tool_choice: "auto",
    parallel_tool_calls: false,
    stream: true,
    max_output_tokens: 50,
    temperature: 0.5,
    top_p: 0.9,
    user: "u1",
    metadata: { a: "b" },
  });
  const messages: ChatMessage[] = [{ role: "user", content: "Hi" }];
  assertEquals(chatRequest(MODEL, messages, body), {
    model: MODEL,
    messages,
    stream: true,
    stream_options: { include_usage: true },
    tools: chatTools([WEATHER_TOOL]),
    tool_choice: "auto",
    parallel_tool_calls: false,
    max_tokens: 50,
    temperature: 0.5,
    top_p: 0.9,
    user: "u1",
  });
});

Deno.test("chatRequest sends no tool settings without tools", () => {
  const body = request({ tools: [], tool_choice: "none", parallel_tool_calls: true });
  assertEquals(chatRequest(MODEL, [], body), { model: MODEL, messages: [] });
});

/** `value` without the fields a server adds to the items it lists. */
function withoutServerFields(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutServerFields);
  if (typeof value !== "object" || value === null) return value;
  const added = ["id", "status", "annotations", "logprobs"];
  return Object.fromEntries(
    Object.entries(value).filter(([k]) => !added.includes(k)).map((
      [k, v],
    ) => [k, withoutServerFields(v)]),
  );
}

Deno.test("items survive the trip to chat messages and back", () => {
  const sent = items([
    { type: "message", role: "system", content: [{ type: "input_text", text: "Be brief" }] },
    { type: "message", role: "user", content: [{ type: "input_text", text: "Paris?" }] },
    { type: "message", role: "assistant", content: [{ type: "output_text", text: "Checking." }] },
    call("call_a", "Paris"),
    { type: "function_call_output", call_id: "call_a", output: "sunny" },
    { type: "message", role: "assistant", content: [{ type: "output_text", text: "Sunny." }] },
  ]);
  const back = itemsFromChat(itemsToMessages(sent), (prefix, i) => `${prefix}_${i}`);
  assertEquals(withoutServerFields(back), sent);
});

Deno.test("chat messages survive the trip to items and back", () => {
  const messages: ChatMessage[] = [
    { role: "developer", content: "Use tools" },
    { role: "user", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] },
    {
      role: "assistant",
      content: null,
      tool_calls: [{ id: "call_a", type: "function", function: { name: "f", arguments: "{}" } }],
    },
    { role: "tool", tool_call_id: "call_a", content: "done" },
    { role: "assistant", content: "Done." },
  ];
  const conversation = itemsFromChat(messages, (prefix, i) => `${prefix}_${i}`);
  assertEquals(itemsToMessages(items(conversation)), messages);
});

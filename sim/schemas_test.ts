import { assert, assertEquals } from "./_assert.ts";
import {
  ChatRequestSchema,
  CompletionRequestSchema,
  describeIssues,
  messageText,
} from "./schemas.ts";

Deno.test("messageText() joins text parts and drops other parts and null content", () => {
  assertEquals(messageText({ role: "user", content: "plain" }), "plain");
  const parts = ChatRequestSchema.parse({
    model: "m",
    messages: [{
      role: "user",
      content: [{ type: "text", text: "a" }, { type: "image_url", image_url: {} }, {
        type: "text",
        text: "b",
      }],
    }, { role: "assistant", content: null, tool_calls: [] }],
  });
  assertEquals(parts.messages.map(messageText), ["ab", ""]);
});

Deno.test("describeIssues() names the path of each problem, or the body", () => {
  const chat = ChatRequestSchema.safeParse({ model: "m", messages: [], n: 2 });
  assert(!chat.success);
  const text = describeIssues(chat.error);
  assert(text.includes("messages: "), text);
  assert(text.includes("n: n must be 1"), text);
  const body = CompletionRequestSchema.safeParse("not an object");
  assert(!body.success);
  assert(describeIssues(body.error).startsWith("body: "));
});

Deno.test("a completion prompt may be a string, a list of one string, or token ids", () => {
  for (const prompt of ["p", ["p"], [1, 2, 3]]) {
    assert(CompletionRequestSchema.safeParse({ model: "m", prompt }).success, String(prompt));
  }
  assert(!CompletionRequestSchema.safeParse({ model: "m", prompt: ["a", "b"] }).success);
});

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import fc from "fast-check";
import { ChatCompletionBody, isPlainChatBody, MAX_TOKENS_BOUND } from "./schemas.ts";

const ROLES = ["system", "developer", "user", "assistant", "tool", "function", "bot", ""];

/** Values around the bounds the hand check tests, and of the wrong types. */
const edgeNumber = fc.oneof(
  fc.constantFrom(0, -0, 1, 2, 0.5, -1, 2.0000001, 1.0000001, MAX_TOKENS_BOUND),
  fc.constantFrom(MAX_TOKENS_BOUND + 1, Infinity, -Infinity, NaN, 1e999, 3.5),
  fc.double(),
  fc.integer({ min: -10, max: MAX_TOKENS_BOUND + 10 }),
);
const anyValue = fc.oneof(
  edgeNumber,
  fc.string({ maxLength: 4 }),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.constant([]),
  fc.constant({}),
);
const modelName = fc.oneof(
  { weight: 6, arbitrary: fc.string({ minLength: 0, maxLength: 3 }) },
  fc.constantFrom("a".repeat(512), "b".repeat(513), "bench"),
  anyValue,
);
const message = fc.oneof(
  {
    weight: 30,
    arbitrary: fc.record({ role: fc.constantFrom(...ROLES), content: fc.string({ maxLength: 8 }) }),
  },
  fc.record({ role: fc.constantFrom(...ROLES), content: anyValue }),
  fc.record({ role: fc.constantFrom(...ROLES), content: fc.string(), name: anyValue }),
  fc.record({ role: anyValue, content: fc.string() }),
  fc.record({ role: fc.constantFrom(...ROLES) }),
  fc.record({ content: fc.string() }),
  anyValue,
);
const messages = fc.oneof(
  { weight: 8, arbitrary: fc.array(message, { maxLength: 3 }) },
  anyValue,
);
/** A field the hand check checks, one it leaves to the schema, or one the schema does not define. */
const fieldValue = fc.oneof(
  fc.record({ name: fc.constantFrom("stream"), value: anyValue }),
  fc.record({
    name: fc.constantFrom("max_tokens", "max_completion_tokens", "temperature", "top_p"),
    value: edgeNumber,
  }),
  fc.record({
    name: fc.constantFrom("n", "stop", "seed", "tools", "stream_options", "logit_bias", "user"),
    value: anyValue,
  }),
  fc.record({
    name: fc.constantFrom("top_k", "repetition_penalty", "__proto__", "constructor"),
    value: anyValue,
  }),
);
const body = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record(
      { model: modelName, messages, extra: fc.array(fieldValue, { maxLength: 4 }) },
      { requiredKeys: [] },
    ).map(({ extra, ...fields }) => {
      // Built as JSON.parse would: own data properties, `__proto__` one of them.
      const out: Record<string, unknown> = JSON.parse(JSON.stringify(fields));
      for (const { name, value } of extra ?? []) {
        Object.defineProperty(out, name, { value, enumerable: true, writable: true });
      }
      return out;
    }),
  },
  anyValue,
);

Deno.test("isPlainChatBody passes only bodies the chat schema accepts", () => {
  let passed = 0;
  fc.assert(
    fc.property(body, (b) => {
      if (!isPlainChatBody(b)) return true;
      passed++;
      const parsed = ChatCompletionBody.safeParse(b);
      return parsed.success;
    }),
    { numRuns: 20_000 },
  );
  assert(passed > 100, `only ${passed} generated bodies took the hand check`);
});

Deno.test("isPlainChatBody passes the plain bodies agents send and leaves the rest to the schema", () => {
  const plain = {
    model: "m",
    messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Say ok." },
      { role: "assistant", content: "ok" },
      { role: "developer", content: "" },
    ],
    max_tokens: 10,
    max_completion_tokens: null,
    temperature: 0.7,
    top_p: 1,
    stream: true,
    top_k: 40,
  };
  assert(isPlainChatBody(plain));
  assert(isPlainChatBody(JSON.parse(JSON.stringify(plain))));
  const leftToSchema = [
    { ...plain, stream_options: { include_usage: true } },
    { ...plain, messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }] },
    { ...plain, messages: [{ role: "user", content: "hi", name: "n" }] },
    { ...plain, messages: [{ role: "tool", content: "1", tool_call_id: "c" }] },
    { ...plain, messages: [] },
    { ...plain, max_tokens: 1.5 },
    { ...plain, temperature: 3 },
    { ...plain, model: "" },
    { messages: plain.messages },
    { model: "m" },
  ];
  assertEquals(leftToSchema.map(isPlainChatBody), leftToSchema.map(() => false));
  // The ones the schema refuses, it refuses naming the field, as it did before the hand check.
  assertEquals(
    leftToSchema.map((b) => ChatCompletionBody.safeParse(b).success),
    [true, true, true, true, false, false, false, false, false, false],
  );
});

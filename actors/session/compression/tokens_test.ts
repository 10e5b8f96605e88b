import assert from "node:assert/strict";
import {
  approxTokenCounter,
  ENCODE_CHUNK_CHARS,
  EXACT_MAX_CHARS,
  loadTokenCounter,
  MESSAGE_TEMPLATE_TOKENS,
} from "./tokens.ts";

Deno.test("loadTokenCounter() counts a known string with the real Llama 3 tokenizer", async () => {
  const counter = await loadTokenCounter();
  assert.equal(counter.countText("Hello world"), 2);
  assert.equal(counter.countText("The quick brown fox jumps over the lazy dog."), 10);
  // <|start_header_id|> user <|end_header_id|> \n\n Hello world <|eot_id|>
  assert.equal(counter.countMessage({ role: "user", content: "Hello world" }), 7);
});

Deno.test("loadTokenCounter() loads the vocabulary once", async () => {
  assert.equal(await loadTokenCounter(), await loadTokenCounter());
});

Deno.test("countMessage() adds the template, an assistant's tool calls and a tool result's id", async () => {
  const counter = await loadTokenCounter();
  const call = {
    id: "call_1",
    type: "function" as const,
    function: { name: "run", arguments: "{}" },
  };
  const bare = counter.countMessage({ role: "assistant", content: "ok" });
  const withCall = counter.countMessage({ role: "assistant", content: "ok", tool_calls: [call] });
  assert.ok(withCall > bare + 5, `${withCall} vs ${bare}`);
  const tool = counter.countMessage({ role: "tool", tool_call_id: "call_1", content: "ok" });
  assert.equal(
    tool,
    MESSAGE_TEMPLATE_TOKENS + 2 + counter.countText("ok") + counter.countText("call_1"),
  );
});

Deno.test("approxTokenCounter counts 4 characters a token plus the template", () => {
  assert.equal(approxTokenCounter.countText("x".repeat(9)), 3);
  assert.equal(
    approxTokenCounter.countMessage({ role: "user", content: "x".repeat(8) }),
    MESSAGE_TEMPLATE_TOKENS + 1 + 2,
  );
});

Deno.test("loadTokenCounter() counts a long text without spaces, and prose the same in pieces", async () => {
  const counter = await loadTokenCounter();
  // One pre-token of 200k characters overflowed the tokenizer's stack when encoded whole.
  assert.ok(counter.countText("x".repeat(200_000)) > 10_000);
  const prose = "The quick brown fox jumps over the lazy dog. ".repeat(1_000).trimEnd();
  assert.ok(prose.length > 2 * ENCODE_CHUNK_CHARS);
  assert.equal(counter.countText(prose), 10 * 1_000);
  assert.equal(
    counter.countText("y".repeat(EXACT_MAX_CHARS + 4)),
    approxTokenCounter.countText("y".repeat(EXACT_MAX_CHARS + 4)),
  );
});

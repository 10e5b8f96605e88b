import { assert, assertEquals, assertGreater } from "./_assert.ts";
import {
  approxTokenizer,
  createTokenizer,
  hashText,
  renderChat,
  renderCompletion,
} from "./tokens.ts";

Deno.test("the exact tokenizer counts Llama 3 tokens with special tokens as one each", async () => {
  const tokenizer = await createTokenizer("exact");
  assertEquals(tokenizer.tokenize(renderCompletion("Hello world")).tokens, 3);
  const chat = tokenizer.tokenize(renderChat([{ role: "user", content: "Hello world" }])).tokens;
  // The template adds the system header with its date preamble, a user header and the assistant header.
  assertGreater(chat, 20);
  assert(chat < 40, `template tokens ${chat}`);
});

Deno.test("the exact tokenizer hashes each full 512-token block, chained", async () => {
  const tokenizer = await createTokenizer("exact");
  const a = tokenizer.tokenize(" hello".repeat(1100));
  const b = tokenizer.tokenize(" hello".repeat(1050) + " world".repeat(50));
  assertEquals(a.tokens, 1100);
  assertEquals(a.blockHashes.length, 2);
  assertEquals(a.blockHashes[0], b.blockHashes[0]);
  assertEquals(a.blockHashes[1], b.blockHashes[1]);
  const c = tokenizer.tokenize(" world" + " hello".repeat(1099));
  assert(c.blockHashes[1] !== a.blockHashes[1], "a block's hash covers every block before it");
});

Deno.test("the approximate tokenizer counts 4 characters a token and 2,048 characters a block", () => {
  const text = "x".repeat(2048 * 3 + 5);
  const counted = approxTokenizer.tokenize(text);
  assertEquals(counted.tokens, Math.ceil(text.length / 4));
  assertEquals(counted.blockHashes.length, 3);
  const other = approxTokenizer.tokenize("x".repeat(2048 * 2) + "y".repeat(2048));
  assertEquals(other.blockHashes.slice(0, 2), counted.blockHashes.slice(0, 2));
  assert(other.blockHashes[2] !== counted.blockHashes[2]);
});

Deno.test("renderChat() writes Llama 3.1's template with the system message first", () => {
  const text = renderChat([{ role: "system", content: "Be brief." }, {
    role: "user",
    content: "Hi",
  }]);
  assert(text.startsWith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"));
  assert(
    text.includes("Be brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"),
  );
  assert(text.endsWith("<|start_header_id|>assistant<|end_header_id|>\n\n"));
});

Deno.test("hashText() continues a hash across calls like one pass", () => {
  const s = "abcdefgh";
  assertEquals(hashText(s, 4, 8, hashText(s, 0, 4)), hashText(s, 0, 8));
});

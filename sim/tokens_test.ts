import { assert, assertEquals, assertGreater } from "./_assert.ts";
import { renderChat, renderCompletion } from "./chat_template.ts";
import { outputPieces } from "./text.ts";
import { approxTokenizer, createTokenizer, hashText, type PromptTokenizer } from "./tokens.ts";

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

Deno.test("hashText() continues a hash across calls like one pass", () => {
  const s = "abcdefgh";
  assertEquals(hashText(s, 4, 8, hashText(s, 0, 4)), hashText(s, 0, 8));
});

Deno.test("every generated token's text is one Llama 3 token, and an answer re-tokenizes to them", async () => {
  const tokenizer = await createTokenizer("exact");
  const question = renderChat([{ role: "user", content: "Hi" }]);
  const base = tokenizer.tokenize(question).tokens;
  for (let seed = 0; seed < 20; seed++) {
    const chat = outputPieces(seed, 300);
    assertEquals(tokenizer.tokenize(question + chat.join("")).tokens, base + 300);
    const completion = outputPieces(seed, 300, { opensAnswer: false });
    assertEquals(
      tokenizer.tokenize(renderCompletion("Say:" + completion.join(""))).tokens,
      3 + 300,
    );
    assert(chat.every((piece) => piece.length === 4), "an output token is 4 characters");
  }
});

/** A prompt long enough that its first turn's output fills blocks past the prompt's own. */
function firstTurn(tokenizer: PromptTokenizer) {
  const messages = [{ role: "user", content: "All hands on deck. ".repeat(150) }];
  const prompt = tokenizer.tokenize(renderChat(messages));
  const pieces = outputPieces(9, 1500);
  const next = renderChat([
    ...messages,
    { role: "assistant", content: pieces.join("") },
    { role: "user", content: "And then?" },
  ]);
  return { prompt, pieces, next: tokenizer.tokenize(next) };
}

for (const mode of ["exact", "approx"] as const) {
  Deno.test(`withOutput() gives the ${mode} hashes the next turn's prompt has for the answer's blocks`, async () => {
    const { prompt, pieces, next } = firstTurn(await createTokenizer(mode));
    const sequence = prompt.withOutput(pieces);
    const full = Math.floor((prompt.tokens + pieces.length) / 512);
    assertEquals(sequence.length, full);
    assertGreater(full, prompt.blockHashes.length + 1);
    assertEquals(sequence.slice(0, prompt.blockHashes.length), prompt.blockHashes);
    assertEquals(next.blockHashes.slice(0, full), sequence);
  });
}

Deno.test("a prompt of token ids counts the beginning-of-text token and hashes blocks of ids", async () => {
  for (const tokenizer of [approxTokenizer, await createTokenizer("exact")]) {
    const ids = Array.from({ length: 1100 }, (_, i) => 1000 + i);
    const counted = tokenizer.tokenizeIds(ids);
    assertEquals(counted.tokens, 1101);
    assertEquals(counted.blockHashes.length, 2);
    const other = tokenizer.tokenizeIds([...ids.slice(0, 600), 7, ...ids.slice(601)]);
    assertEquals(other.blockHashes[0], counted.blockHashes[0]);
    assert(other.blockHashes[1] !== counted.blockHashes[1]);
    assertEquals(counted.withOutput(outputPieces(1, 2000)).length, Math.floor(3101 / 512));
  }
});

Deno.test("pieces() splits text into its tokens' texts: 4 characters, or one Llama 3 token each", async () => {
  const text = '{"name": "read_file", "parameters": {"path": "日本語 é 🚀"}}';
  assertEquals(approxTokenizer.pieces(text).join(""), text);
  assert(approxTokenizer.pieces(text).every((p) => p.length <= 4));
  const exact = await createTokenizer("exact");
  const pieces = exact.pieces(text);
  assertEquals(pieces.join(""), text);
  const ascii = exact.pieces(text.slice(0, 40));
  assertEquals(ascii.length, exact.tokenize(text.slice(0, 40)).tokens);
  assert(pieces.length <= exact.tokenize(text).tokens);
});

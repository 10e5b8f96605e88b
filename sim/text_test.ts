import { assert, assertEquals } from "./_assert.ts";
import { naturalLength, outputPieces, tokenText } from "./text.ts";

Deno.test("output tokens depend only on the seed and their position", () => {
  const words = (seed: number) => outputPieces(seed, 20).join("");
  assertEquals(words(1), words(1));
  assert(words(1) !== words(2));
  assertEquals(outputPieces(7, 5)[3], tokenText(7, 3));
});

Deno.test("a chat answer opens with a capitalised word and a completion with a spaced one", () => {
  for (let seed = 0; seed < 50; seed++) {
    const chat = outputPieces(seed, 3);
    const completion = outputPieces(seed, 3, { opensAnswer: false });
    assert(/^[A-Z][a-z]{3}$/.test(chat[0]!), chat[0]);
    assert(/^ [a-z]{3}$/.test(completion[0]!), completion[0]);
    assertEquals(chat.slice(1), completion.slice(1));
    assert([...chat, ...completion].every((piece) => piece.length === 4));
  }
});

Deno.test("a natural output length stays between 16 and 271 tokens", () => {
  for (let seed = 0; seed < 200; seed++) {
    const n = naturalLength(seed);
    assert(n >= 16 && n <= 271, `length ${n}`);
  }
});

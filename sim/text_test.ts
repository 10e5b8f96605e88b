import { assert, assertEquals } from "./_assert.ts";
import { naturalLength, tokenText } from "./text.ts";

Deno.test("output tokens depend only on the seed and their position", () => {
  const words = (seed: number) => Array.from({ length: 20 }, (_, i) => tokenText(seed, i)).join("");
  assertEquals(words(1), words(1));
  assert(words(1) !== words(2));
  assert(tokenText(1, 1).startsWith(" "));
});

Deno.test("a natural output length stays between 16 and 271 tokens", () => {
  for (let seed = 0; seed < 200; seed++) {
    const n = naturalLength(seed);
    assert(n >= 16 && n <= 271, `length ${n}`);
  }
});

import assert from "node:assert/strict";
import fc from "fast-check";
import library from "llama3-tokenizer-js";
import { loadLlama3 } from "./llama3.ts";

const counter = await loadLlama3();

/** The reference: the library's own encoder, which the compact tables replace. */
function libraryCount(text: string): number {
  return library.encode(text, { bos: false, eos: false }).length;
}

/** Checks `numRuns` texts of `texts` against the library, and texts joined of up to `maxParts` `pieces`. */
function matchesLibrary(
  pieces: string[],
  maxParts: number,
  texts: fc.Arbitrary<string>,
  numRuns: number,
): void {
  const joined = fc.array(fc.constantFrom(...pieces), { maxLength: maxParts }).map((parts) =>
    parts.join("")
  );
  for (const [arbitrary, runs] of [[joined, 2 * numRuns], [texts, numRuns]] as const) {
    fc.assert(
      fc.property(arbitrary, (text) => {
        assert.equal(counter.count(text), libraryCount(text), JSON.stringify(text));
      }),
      { numRuns: runs },
    );
  }
}

Deno.test("Llama3Counter counts known strings as the Llama 3 tokenizer does", () => {
  assert.equal(counter.count("Hello world"), 2);
  assert.equal(counter.count("The quick brown fox jumps over the lazy dog."), 10);
  assert.equal(counter.count(""), 0);
  // A special token in the text is one token, as the library encodes it.
  assert.equal(counter.count("<|eot_id|>"), 1);
});

Deno.test("Llama3Counter matches the library on prose, code, scripts, emoji and specials", async () => {
  const texts = [
    "日本語のテキストです。東京タワーは高い。",
    "emoji 🎉🎉 and a flag 🇫🇮, ok",
    "def f(x):\n    return x**2  # squared\n\n\n\tpass",
    "<|eot_id|>hi<|start_header_id|>user<|end_header_id|>\n\n<|reserved_special_token_248|>",
    "a\u0301e\u0301 naïve café, Ünïcödé ΑΒΓ абв",
    "\ud800 a lone surrogate",
    " ".repeat(30) + "tab\t\tx\r\n\r\n",
    "1234567890 3.14159 I'll we're they've it's",
    "x".repeat(5_000),
    "ab".repeat(2_000),
    "漢".repeat(1_000),
    await Deno.readTextFile(new URL(import.meta.url)),
    await Deno.readTextFile(new URL("./llama3.ts", import.meta.url)),
  ];
  for (const text of texts) {
    assert.equal(counter.count(text), libraryCount(text), JSON.stringify(text.slice(0, 40)));
  }
});

Deno.test("Llama3Counter matches the library on random text", () => {
  const pieces = [
    "a",
    "b",
    "z",
    " ",
    "  ",
    "\n",
    "\t",
    ".",
    ",",
    "'s",
    "'ll",
    "0",
    "12",
    "Ä",
    "ö",
    "日本",
    "語",
    "🎉",
    "<|",
    "|>",
    "eot_id",
    "<|eot_id|>",
    "_",
    "-",
    "\r\n",
    "ß",
    "ﬁ",
    "\u0301",
  ];
  matchesLibrary(pieces, 80, fc.string({ unit: "binary", maxLength: 60 }), 1_000);
});

Deno.test("Llama3Counter's ASCII pre-tokenizer splits as the library's pattern does", () => {
  // ASCII alone takes the scanner, not the regular expression: every class and alternative of
  // the pattern (contractions in any case, a leading character before letters, digit runs,
  // punctuation with its line breaks, whitespace runs with and without breaks, controls).
  const pieces = [
    "a",
    "Bc",
    "word",
    "1",
    "22",
    "9999",
    " ",
    "  ",
    "\t",
    "\n",
    "\r",
    "\r\n",
    "\v",
    "\f",
    "'",
    "'S",
    "'ll",
    "'RE",
    "'ve",
    "'d",
    "'m",
    "'t",
    "s",
    "l",
    ".",
    "!?",
    "-",
    "_",
    "<|",
    "\x00",
    "\x1f",
    "\x7f",
  ];
  const ascii = fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c));
  matchesLibrary(pieces, 40, fc.string({ unit: ascii, maxLength: 60 }), 2_500);
});

Deno.test("Llama3Counter counts a remembered pre-token as the library does, alone or in a longer text", async () => {
  // A fresh counter, so that what it remembers comes from this test's texts only.
  const fresh = await loadLlama3();
  const words = ["日本語", " naïve", "🎉🎉", " café", "ab", " ΑΒΓ", "x", " 12"];
  const long = words.join("") + " " + words.join(" ").repeat(20);
  for (const text of [long, ...words, ...words.map((w) => w + w), long]) {
    assert.equal(fresh.count(text), libraryCount(text), JSON.stringify(text.slice(0, 40)));
  }
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...words), { maxLength: 12 }), (parts) => {
      const text = parts.join("");
      assert.equal(fresh.count(text), libraryCount(text), JSON.stringify(text));
    }),
    { numRuns: 1_000 },
  );
});

Deno.test("Llama3Counter holds its tables in typed arrays of under 10 MB", () => {
  assert.ok(counter.byteLength > 5_000_000, `${counter.byteLength}`);
  assert.ok(counter.byteLength < 10_000_000, `${counter.byteLength}`);
});

import {
  deepStrictEqual as assertEquals,
  ok as assert,
  throws as assertThrows,
} from "node:assert/strict";
import {
  blockText,
  parseTrace,
  promptText,
  traceBlockHashes,
  TraceError,
  type TraceRequest,
} from "./trace.ts";
import { approxTokenizer } from "./tokens.ts";

/** A request of `input_length` tokens (a full block per id by default) arriving at 0. */
function req(hash_ids: number[], input_length = hash_ids.length * 512): TraceRequest {
  return { timestamp: 0, input_length, output_length: 10, hash_ids };
}

Deno.test("parseTrace reads JSON lines in arrival order and skips blank lines", () => {
  const text = [
    '{"timestamp": 50, "input_length": 600, "output_length": 3, "hash_ids": [1, 2]}',
    "",
    '{"timestamp": 0, "input_length": 100, "output_length": 5, "hash_ids": [7]}',
    '{"timestamp": 50, "input_length": 100, "output_length": 4, "hash_ids": [8]}',
  ].join("\n");
  const trace = parseTrace(text);
  assertEquals(trace.map((r) => r.hash_ids[0]), [7, 1, 8]);
  assertEquals(trace[1], { timestamp: 50, input_length: 600, output_length: 3, hash_ids: [1, 2] });
});

Deno.test("parseTrace names the line and field of a bad request", () => {
  assertThrows(() => parseTrace('{"timestamp": 0}\n', "t.jsonl"), (e: unknown) => {
    assert(e instanceof TraceError);
    assert(e.message.startsWith("t.jsonl:1: "), e.message);
    return true;
  });
  assertThrows(() => parseTrace("\nnot json", "t.jsonl"), /t\.jsonl:2: not JSON/);
});

Deno.test("requests sharing leading hash ids share block hashes and prompt text", () => {
  const a = req([1, 2, 3], 1100);
  const b = req([1, 2, 4, 5], 1600);
  assertEquals(traceBlockHashes(a).length, 2);
  assertEquals(traceBlockHashes(a), traceBlockHashes(b).slice(0, 2));
  const options = { blockChars: 2048, charsPerToken: 4 };
  const textA = promptText(a, options);
  const textB = promptText(b, options);
  assertEquals(textA.length, 1100 * 4);
  assertEquals(textA.slice(0, 4096), textB.slice(0, 4096));
  assertEquals(
    approxTokenizer.tokenize(textA).blockHashes,
    approxTokenizer.tokenize(textB).blockHashes.slice(0, 2),
  );
});

Deno.test("blockText is fixed per id, exactly as long as asked and distinct between ids", () => {
  const a = blockText(42, 2048);
  assertEquals(a.length, 2048);
  assertEquals(blockText(42, 2048), a);
  assert(blockText(43, 2048) !== a);
  assert(a.startsWith("[42] "));
});

Deno.test("promptText shares a textual prefix exactly where the hash ids agree", () => {
  const opts = { blockChars: 64, charsPerToken: 4 };
  const a = promptText(req([1, 2, 3], 48), opts);
  const b = promptText(req([1, 2, 4], 48), opts);
  assertEquals(a.length, 192);
  assertEquals(a.slice(0, 128), b.slice(0, 128));
  assert(a.slice(128) !== b.slice(128));
  // A partial last block is a prefix of the block's text.
  assertEquals(promptText(req([1, 2, 3], 40), opts), a.slice(0, 160));
});

Deno.test("promptText shortens the first block by the template's characters", () => {
  const opts = { blockChars: 64, charsPerToken: 4, templateChars: 10 };
  const text = promptText(req([1, 2], 32), opts);
  assertEquals(text.length, 118);
  assertEquals(text.slice(0, 54), blockText(1, 64).slice(0, 54));
  assertEquals(text.slice(54), blockText(2, 64));
});

Deno.test("promptText pads a request longer than its hash ids", () => {
  const text = promptText(req([1], 100), { blockChars: 64, charsPerToken: 4 });
  assertEquals(text.length, 400);
});

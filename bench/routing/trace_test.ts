import {
  deepStrictEqual as assertEquals,
  ok as assert,
  throws as assertThrows,
} from "node:assert/strict";
import {
  blockText,
  cappedHitRate,
  conversations,
  idealHitRate,
  parseTrace,
  promptText,
  TraceError,
  type TraceRequest,
} from "./trace.ts";

function req(
  timestamp: number,
  hash_ids: number[],
  input_length = hash_ids.length * 512,
): TraceRequest {
  return { timestamp, input_length, output_length: 10, hash_ids };
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

Deno.test("idealHitRate counts blocks already seen as a leading run", () => {
  // [1,2] 0 hits; [1,2,3] 2 hits; [4,2] 0 hits (2 follows another prefix); [1,5] 1 hit.
  const trace = [req(0, [1, 2]), req(1, [1, 2, 3]), req(2, [4, 2]), req(3, [1, 5])];
  assertEquals(idealHitRate(trace), 3 / 9);
  assertEquals(idealHitRate([]), 0);
});

Deno.test("idealHitRate of the shared Mooncake trace is the 64% its README states", async () => {
  const text = await Deno.readTextFile(
    new URL("../../../shared/traces/mooncake-synthetic.jsonl", import.meta.url),
  ).catch(() => undefined);
  if (text === undefined) return;
  const rate = idealHitRate(parseTrace(text));
  assert(Math.abs(rate - 0.64) < 0.005, `ceiling ${rate}`);
});

Deno.test("conversations follow turns that repeat the history, not a shared system prompt", () => {
  const trace = [
    req(0, [1, 2, 3]), // conversation 0
    req(1, [1, 2, 3, 4, 5]), // next turn of 0
    req(2, [1, 9]), // shares 1 of 5 blocks: new conversation
    req(3, [1, 2, 3, 4, 6]), // branch of 0 sharing 4 of 5 blocks
    req(4, [7]), // new
  ];
  assertEquals(conversations(trace), [0, 0, 1, 0, 2]);
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
  const a = promptText(req(0, [1, 2, 3], 48), opts);
  const b = promptText(req(0, [1, 2, 4], 48), opts);
  assertEquals(a.length, 192);
  assertEquals(a.slice(0, 128), b.slice(0, 128));
  assert(a.slice(128) !== b.slice(128));
  // A partial last block is a prefix of the block's text.
  assertEquals(promptText(req(0, [1, 2, 3], 40), opts), a.slice(0, 160));
});

Deno.test("promptText shortens the first block by the template's characters", () => {
  const opts = { blockChars: 64, charsPerToken: 4, templateChars: 10 };
  const text = promptText(req(0, [1, 2], 32), opts);
  assertEquals(text.length, 118);
  assertEquals(text.slice(0, 54), blockText(1, 64).slice(0, 54));
  assertEquals(text.slice(54), blockText(2, 64));
});

Deno.test("promptText pads a request longer than its hash ids", () => {
  const text = promptText(req(0, [1], 100), { blockChars: 64, charsPerToken: 4 });
  assertEquals(text.length, 400);
});

Deno.test("cappedHitRate reaches the ideal with room to spare and falls with small caches", () => {
  const trace = [
    req(0, [1, 2]),
    req(1, [3, 4]),
    req(2, [1, 2, 5]),
    req(3, [3, 4, 6]),
    req(4, [1, 2, 5, 7]),
  ];
  assertEquals(cappedHitRate(trace, { replicas: 2, blocksPerReplica: 100 }), idealHitRate(trace));
  // One replica holding 3 blocks: conversation 2 evicts conversation 1's blocks between its turns.
  assert(cappedHitRate(trace, { replicas: 1, blocksPerReplica: 3 }) < idealHitRate(trace));
  assertEquals(cappedHitRate([], { replicas: 2, blocksPerReplica: 3 }), 0);
});

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { cappedHitRate, conversations, idealHitRate } from "./trace.ts";
import { parseTrace, type TraceRequest } from "../../sim/mod.ts";

function req(
  timestamp: number,
  hash_ids: number[],
  input_length = hash_ids.length * 512,
): TraceRequest {
  return { timestamp, input_length, output_length: 10, hash_ids };
}

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

Deno.test("conversations take a trace's own session_id over the shared hash ids", () => {
  // Single-turn requests behind one system prompt [1, 2] look like turns of one conversation.
  const inferred = [req(0, [1, 2, 3]), req(1, [1, 2, 4]), req(2, [1, 2, 3, 5])];
  assertEquals(conversations(inferred), [0, 0, 0]);
  const named = [
    { ...inferred[0]!, session_id: "a" },
    { ...inferred[1]!, session_id: "b" },
    { ...inferred[2]!, session_id: "a" },
  ];
  assertEquals(conversations(named), [0, 1, 0]);
  assertEquals(parseTrace(named.map((r) => JSON.stringify(r)).join("\n")), named);
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

Deno.test("cappedHitRate counts prompt tokens as the replicas do: full blocks only, never the last token's", () => {
  // The first turn's last block holds 12 tokens only: it is not cached, and the next turn (whose
  // own last block is full) finds 1 block of its 1536 tokens. The same prompt again finds 2 of 3
  // blocks, since the block of its last token is always computed.
  const trace = [req(0, [1, 2], 524), req(1, [1, 2, 3]), req(2, [1, 2, 3])];
  assertEquals(
    cappedHitRate(trace, { replicas: 1, blocksPerReplica: 100 }),
    (512 + 2 * 512) / (524 + 1536 + 1536),
  );
  assert(idealHitRate(trace) > cappedHitRate(trace, { replicas: 1, blocksPerReplica: 100 }));
});

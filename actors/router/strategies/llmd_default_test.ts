import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  LLMD_PREFIX,
  LLMD_WEIGHTS,
  llmdBlockHashes,
  llmdCapacity,
  llmdDefault,
  LlmdIndexer,
  queueScores,
} from "./llmd_default.ts";
import { options, view } from "./_testing.ts";
import { needsPromptText } from "./registry.ts";
import type { BackendView, RequestFeatures } from "./types.ts";
import type { ScrapedLoad } from "../../backend/mod.ts";

const NOW = 1_000_000;

function textRequest(promptText: string, model = "m"): RequestFeatures {
  return {
    model,
    sessionId: undefined,
    prefixHashes: [],
    promptChars: promptText.length,
    promptText,
  };
}

function loaded(
  id: string,
  waiting: number,
  kvUsage: number,
  extra: Partial<ScrapedLoad> = {},
): BackendView {
  return view(id, { load: { running: 0, waiting, kvUsage, scrapedAtMs: NOW, ...extra } });
}

function close(a: number, b: number): boolean {
  return Math.abs(a - b) < 1e-9;
}

Deno.test("llmd block hashes: 64-character blocks, chained, seeded by the model, at most 256", () => {
  const text = "a".repeat(64 * 3 + 10);
  const h = llmdBlockHashes(text, "m");
  assertEquals(h.length, 3);
  assertEquals(new Set(h).size, 3);
  assertEquals(llmdBlockHashes("b" + text.slice(1), "m").filter((x, i) => x === h[i]).length, 0);
  assertEquals(llmdBlockHashes(text.slice(0, 63), "m"), []);
  assert(llmdBlockHashes(text, "other")[0] !== h[0]);
  assertEquals(
    llmdBlockHashes("x".repeat(64 * 300), "m").length,
    LLMD_PREFIX.maxPrefixBlocksToMatch,
  );
});

Deno.test("llmd queue scorer spreads the candidates' waiting requests over [0, 1]", () => {
  assertEquals(queueScores([0, 5, 10]), [1, 0.5, 0]);
  assertEquals(queueScores([3, 3]), [1, 1]);
});

Deno.test("llmd indexer counts held blocks over the leading run some server holds, and evicts by LRU", () => {
  const indexer = new LlmdIndexer();
  indexer.add([1, 2, 3, 4], "a", 10);
  indexer.add([1, 2], "b", 10);
  assertEquals(indexer.match([1, 2, 3, 9, 4]), new Map([["a", 3], ["b", 2]]));
  indexer.add([5, 6, 7], "b", 3);
  // b's capacity is 3: its oldest blocks, 1 and 2, went.
  assertEquals(indexer.sizeOf("b"), 3);
  assertEquals(indexer.match([1, 2]), new Map([["a", 2]]));
  indexer.remove("a");
  assertEquals(indexer.match([1, 2]), new Map());
  assertEquals(indexer.match([5, 6]), new Map([["b", 2]]));
});

Deno.test("llmd_default weighs queue 2, KV utilization 2 and prefix 3 and picks the highest sum", () => {
  assertEquals(LLMD_WEIGHTS, { queue: 2, kvCacheUtilization: 2, prefixCache: 3 });
  assert(needsPromptText("llmd_default"));
  const s = llmdDefault(options({}, NOW));
  const prompt = "p".repeat(64 * 4);
  // a has served the prompt before; b has not, but is idle.
  s.observe!(textRequest(prompt), loaded("a", 0, 0));
  const scores = s.score(textRequest(prompt), [loaded("a", 4, 0.5), loaded("b", 0, 0.1)]);
  // a: queue 0, kv 0.5, prefix 1 -> (0 + 1 + 3) / 7; b: queue 1, kv 0.9, prefix 0 -> (2 + 1.8) / 7.
  assert(close(scores[0]!, 4 / 7), String(scores));
  assert(close(scores[1]!, 3.8 / 7), String(scores));
  // One more waiting request's worth of KV on a tips it: a's prefix no longer outweighs the load.
  const busier = s.score(textRequest(prompt), [loaded("a", 4, 0.7), loaded("b", 0, 0.1)]);
  assert(busier[1]! > busier[0]!, String(busier));
});

Deno.test("llmd_default sees only the first 16,384 characters, so long prompts sharing them look alike", () => {
  const s = llmdDefault(options({}, NOW));
  const shared = "s".repeat(64 * 256);
  s.observe!(textRequest(shared + "conversation A"), loaded("a", 0, 0));
  const scores = s.score(textRequest(shared + "conversation B"), [
    loaded("a", 0, 0),
    loaded("b", 0, 0),
  ]);
  assert(close(scores[0]!, 1), String(scores));
  assert(close(scores[1]!, 4 / 7), String(scores));
});

Deno.test("llmd_default sizes each server's indexer from its GPU blocks when it reports them", () => {
  assertEquals(llmdCapacity(view("a")), 31_250);
  assertEquals(llmdCapacity(loaded("a", 0, 0, { kvCapacityTokens: 430_000 })), 26_875);
  const s = llmdDefault(options({}, NOW));
  // A server whose cache holds 2 blocks of 16 tokens keeps only the last prompt's last 2 blocks.
  const small = loaded("a", 0, 0, { kvCapacityTokens: 32 });
  s.observe!(textRequest("x".repeat(64 * 3)), small);
  const scores = s.score(textRequest("x".repeat(64 * 3)), [small, loaded("b", 0, 0)]);
  // The first block was evicted, so the match stops at once: no prefix credit.
  assert(close(scores[0]!, scores[1]!), String(scores));
  s.forget!("a");
});

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  ApproxTree,
  SGLANG_DEFAULTS,
  sglangCacheAware,
  sglangChoose,
} from "./sglang_cache_aware.ts";
import { needsPromptText } from "./registry.ts";
import { requestFeatures } from "../features.ts";
import { options, view } from "./_testing.ts";
import type { RequestFeatures } from "./types.ts";

function textRequest(promptText: string): RequestFeatures {
  return {
    model: "m",
    sessionId: undefined,
    prefixHashes: [],
    promptChars: promptText.length,
    promptText,
  };
}

Deno.test("ApproxTree counts each tenant's distinct characters across splits", () => {
  const tree = new ApproxTree();
  tree.insert("apple", "t1", 1);
  tree.insert("apricot", "t1", 2);
  tree.insert("banana", "t1", 3);
  tree.insert("apple", "t2", 4);
  // t1 holds "ap" + "ple" + "ricot" + "banana"; t2 only "apple".
  assertEquals(tree.charsOf("t1"), 16);
  assertEquals(tree.charsOf("t2"), 5);
  assertEquals(tree.match("apricots"), { chars: 7, tenant: "t1" });
  // A match ending inside an edge counts its characters.
  assertEquals(tree.match("appx"), { chars: 3, tenant: "t1" });
  assertEquals(tree.match("zzz"), { chars: 0, tenant: undefined });
});

Deno.test("ApproxTree matches only among the given tenants, at the deepest node one holds", () => {
  const tree = new ApproxTree();
  tree.insert("shared system prompt", "a", 1);
  tree.insert("shared system prompt, then turn one", "b", 2);
  assertEquals(tree.match("shared system prompt, then turn one and two").tenant, "b");
  const onlyA = tree.match("shared system prompt, then turn one and two", new Set(["a"]));
  assertEquals(onlyA, { chars: 20, tenant: "a" });
});

Deno.test("ApproxTree evicts least recently used leaves down to the size limit", () => {
  const tree = new ApproxTree();
  tree.insert("root-old-conversation", "a", 1);
  tree.insert("root-new-conversation", "a", 5);
  tree.insert("root-old-conversation", "b", 2);
  assertEquals(tree.charsOf("a"), 5 + 16 + 16);
  tree.evictTo(25);
  // The older leaf of a went; b, under the limit, keeps its copy of it.
  assertEquals(tree.charsOf("a"), 21);
  assertEquals(tree.match("root-old-conversation", new Set(["a"])).chars, 5);
  assertEquals(tree.match("root-new-conversation", new Set(["a"])).chars, 21);
  assertEquals(tree.match("root-old-conversation", new Set(["b"])).chars, 21);
  tree.evictTo(0);
  assertEquals(tree.charsOf("a"), 0);
  assertEquals(tree.charsOf("b"), 0);
  assertEquals(tree.nodeCount, 0);
});

Deno.test("ApproxTree forgets a tenant everywhere and prunes nodes no one holds", () => {
  const tree = new ApproxTree();
  tree.insert("abcdef", "a", 1);
  tree.insert("abcxyz", "b", 2);
  tree.remove("a");
  assertEquals(tree.match("abcdef"), { chars: 3, tenant: "b" });
  assertEquals(tree.match("abcxy"), { chars: 5, tenant: "b" });
  assertEquals(tree.charsOf("a"), 0);
  assertEquals([...tree.tenants().keys()], ["b"]);
});

Deno.test("sglang_cache_aware switches to the shortest queue only when both balance thresholds are passed", () => {
  const tree = new ApproxTree();
  const text = "a conversation the first worker has seen";
  tree.insert(text, "a", 1);
  const choose = (a: number, b: number) =>
    sglangChoose(
      tree,
      text,
      [view("a", { inFlight: a }), view("b", { inFlight: b })],
      SGLANG_DEFAULTS,
    );
  // 70 - 5 > 64 and 70 > 1.5 x 5: imbalanced, to the shortest queue.
  assertEquals(choose(70, 5), { index: 1, decision: "imbalanced" });
  // A spread of exactly 64 is not past the absolute threshold.
  assertEquals(choose(64, 0), { index: 0, decision: "cache_match" });
  // 300 - 210 > 64 but 300 < 1.5 x 210: the relative test keeps it balanced.
  assertEquals(choose(300, 210), { index: 0, decision: "cache_match" });
});

Deno.test("sglang_cache_aware follows the cache above the match threshold, else the smallest tree", () => {
  const tree = new ApproxTree();
  tree.insert("0123456789", "a", 1);
  tree.insert("a long unrelated prompt the second worker got", "b", 2);
  const candidates = [view("a"), view("b"), view("c")];
  // 10 of 30 characters (0.33) is above 0.3.
  const above = sglangChoose(tree, "0123456789" + "x".repeat(20), candidates, SGLANG_DEFAULTS);
  assertEquals(above, { index: 0, decision: "cache_match" });
  // 10 of 40 (0.25) is not: the worker holding the fewest characters, c, which holds none.
  const below = sglangChoose(tree, "0123456789" + "x".repeat(30), candidates, SGLANG_DEFAULTS);
  assertEquals(below, { index: 2, decision: "smallest_tree" });
  const withoutC = sglangChoose(tree, "unseen", candidates.slice(0, 2), SGLANG_DEFAULTS);
  assertEquals(withoutC, { index: 0, decision: "smallest_tree" });
});

Deno.test("sglang_cache_aware scores its pick 1, learns the chosen worker's text and evicts on its interval", () => {
  let now = 1_000_000;
  const s = sglangCacheAware({ ...options(), now: () => now }, {
    max_tree_size: 45,
    eviction_interval_secs: 120,
  });
  const candidates = [view("a"), view("b")];
  const first = textRequest("conversation one, turn one");
  assertEquals(s.score(first, candidates), [1, 0]);
  s.observe!(first, candidates[0]!);
  // The next turn extends the first: a's cache wins; an unrelated prompt goes to the empty b.
  const next = textRequest("conversation one, turn one; turn two");
  assertEquals(s.score(next, candidates), [1, 0]);
  assertEquals(s.score(textRequest("something else entirely"), candidates), [0, 1]);
  s.observe!(next, candidates[0]!);
  now += 59_000;
  const xs = textRequest("x".repeat(40));
  s.observe!(xs, candidates[0]!);
  now += 1_000;
  // No pass yet (a holds 76 characters, over the limit): the conversation is still a's, and
  // matching it marks it used now, after the x's.
  assertEquals(s.score(next, candidates), [1, 0]);
  now += 61_000;
  s.observe!(textRequest("y".repeat(5)), candidates[1]!);
  // The pass ran: a was cut to at most 45 characters, least recently used first, so the x's went
  // and the conversation stayed.
  assertEquals(s.score(next, candidates), [1, 0]);
  assertEquals(s.score(textRequest("x".repeat(40) + "!"), candidates), [0, 1]);
  s.forget!("a");
  assertEquals(s.score(next, candidates), [1, 0]);
  assertEquals(s.score(textRequest("y".repeat(5)), candidates), [0, 1]);
});

Deno.test("the prompt text is built only for strategies that read it", () => {
  assert(needsPromptText("sglang_cache_aware"));
  assert(needsPromptText({ prefix_aware: 1, sglang_cache_aware: 1 }));
  assert(!needsPromptText({ prefix_aware: 1, sglang_cache_aware: 0 }));
  assert(!needsPromptText("prefix_aware"));
  const body = { model: "m", messages: [{ role: "user", content: "hi" }] };
  const plain = requestFeatures(body, { sessionId: undefined, blockChars: 4 });
  assertEquals(plain.promptText, undefined);
  const withText = requestFeatures(body, { sessionId: undefined, blockChars: 4, promptText: true });
  assertEquals(withText.promptText, "user\u001ehi\u001f");
  assertEquals(withText.prefixHashes, plain.prefixHashes);
});

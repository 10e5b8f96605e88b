import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  HOME_PENDING_PROMPTS,
  MIN_PREFIX_SHARE,
  PENDING_CHARS_PER_REQUEST,
  PREFIX_LOAD_SHARE,
  prefixAware,
  PrefixIndex,
  reportedBlocks,
} from "./prefix_aware.ts";
import { options, request, view } from "./_testing.ts";
import type { BackendView } from "./types.ts";

Deno.test("PrefixIndex matches the leading run of held hashes only", () => {
  const index = new PrefixIndex(10);
  index.insert([1, 2, 3]);
  assertEquals(index.match([1, 2, 3, 4]), 3);
  assertEquals(index.match([1, 9, 3]), 1);
  assertEquals(index.match([9, 1, 2]), 0);
  assertEquals(index.match([]), 0);
});

Deno.test("PrefixIndex evicts the least recently used blocks beyond its capacity", () => {
  const index = new PrefixIndex(4);
  index.insert([1, 2]);
  index.insert([10, 11]);
  index.insert([1, 2]);
  index.insert([20, 21]);
  assertEquals(index.size, 4);
  assertEquals(index.match([1, 2]), 2);
  assertEquals(index.match([10]), 0);
  assertEquals(index.match([20, 21]), 2);
});

Deno.test("PrefixIndex keeps a long prompt's leading blocks when it exceeds the capacity", () => {
  const index = new PrefixIndex(3);
  index.insert([1, 2, 3, 4, 5]);
  assertEquals(index.match([1, 2, 3, 4, 5]), 3);
});

Deno.test("prefix_aware prefers the replica holding the longest prefix", () => {
  const s = prefixAware(options());
  s.observe!(request([1, 2, 3]), view("a"));
  s.observe!(request([1, 2, 3, 4]), view("b"));
  const scores = s.score(request([1, 2, 3, 4, 5]), [view("a"), view("b"), view("c")]);
  assert(scores[1]! > scores[0]! && scores[0]! > scores[2]!);
  assertEquals(scores[2], PREFIX_LOAD_SHARE);
});

Deno.test("prefix_aware lets load decide when the held prefix is a small share of the prompt", () => {
  const s = prefixAware(options());
  // A shared system prompt: two of five blocks, under the minimum share (its prefill is done).
  const system = request([1, 2]);
  s.observe!(system, view("a"));
  s.prefilled!(system, "a");
  assert(2 / 5 < MIN_PREFIX_SHARE);
  const scores = s.score(request([1, 2, 7, 8, 9]), [view("a"), view("b")]);
  assertEquals(scores, [PREFIX_LOAD_SHARE, PREFIX_LOAD_SHARE]);
  // The same conversation's next turn holds most of its prompt there and sticks.
  s.observe!(request([1, 2, 7, 8, 9]), view("a"));
  const next = s.score(request([1, 2, 7, 8, 9, 10]), [view("a"), view("b")]);
  assert(next[0]! > next[1]!);
});

Deno.test("prefix_aware sheds a hot replica to the next longest prefix", () => {
  const s = prefixAware(options({ loadBound: 1.5 }));
  s.observe!(request([1, 2, 3, 4]), view("a"));
  s.observe!(request([1, 2]), view("b"));
  // Mean 3, bound 5.5: a with 8 in flight loses its cache credit; b keeps its 2 of 4 blocks.
  const scores = s.score(request([1, 2, 3, 4]), [
    view("a", { inFlight: 8 }),
    view("b", { inFlight: 1 }),
    view("c"),
  ]);
  assert(scores[1]! > scores[2]! && scores[2]! > scores[0]!);
});

Deno.test("prefix_aware spreads prompts without a cached prefix by load", () => {
  const s = prefixAware(options());
  const scores = s.score(request([7, 8]), [view("a", { inFlight: 1 }), view("b")]);
  assertEquals(scores, [PREFIX_LOAD_SHARE * 0.5, PREFIX_LOAD_SHARE]);
  assertEquals(s.score(request([]), [view("a", { inFlight: 1 }), view("b")]), [0.5, 1]);
});

Deno.test("prefix_aware forgets a retired replica's cache", () => {
  const s = prefixAware(options());
  s.observe!(request([1, 2]), view("a"));
  s.forget!("a");
  const scores = s.score(request([1, 2]), [view("a"), view("b")]);
  assertEquals(scores[0], scores[1]);
});

Deno.test("prefix_aware takes in another gateway's placements as if it had routed them, its prefill as load until done", () => {
  const s = prefixAware(options());
  const candidates = [view("a"), view("b"), view("c")];
  s.absorb!("b", [1, 2, 3], 0);
  const scores = s.score(request([1, 2, 3, 4]), candidates);
  assert(scores[1]! > scores[0]! && scores[0] === scores[2], `${scores}`);
  // Nothing pending: b carries no extra load.
  assertEquals(s.score(request([9]), candidates), [1, 1, 1].map((x) => PREFIX_LOAD_SHARE * x));
  // Another gateway's prefill queued at c weighs as this router's own would, until it is done.
  s.absorb!("c", [7], PENDING_CHARS_PER_REQUEST);
  const loaded = s.score(request([9]), candidates);
  assertEquals(loaded.map((x) => x / PREFIX_LOAD_SHARE), [1, 1, 0.5]);
  s.absorbedPrefilled!("c", PENDING_CHARS_PER_REQUEST);
  assertEquals(s.score(request([9]), candidates), [1, 1, 1].map((x) => PREFIX_LOAD_SHARE * x));
});

Deno.test("prefix_aware prefers a session's home replica when no index knows the prompt", () => {
  const strategy = prefixAware(options());
  const routed = { ...request([1, 2, 3, 4], "s"), homeBackend: "b" };
  const scores = strategy.score(routed, [view("a"), view("b")]);
  assert(scores[1]! > scores[0]!, `home replica b should win: ${scores}`);
  const without = strategy.score(request([1, 2, 3, 4], "s"), [view("a"), view("b")]);
  assertEquals(without[0], without[1]);
});

Deno.test("prefix_aware lets go of a session's home hint while that replica has far more prefill queued than another", () => {
  const strategy = prefixAware(options());
  const turn = { ...request([1, 2, 3, 4], "s"), homeBackend: "b" };
  const candidates = [view("a"), view("b")];
  // A long prompt this router sent b, still awaiting its first token there: exactly the most
  // the hint allows beyond a's queue, so b still counts as holding the session's history.
  const long = sized(HOME_PENDING_PROMPTS * turn.promptChars, 1);
  strategy.observe!(long, view("b"));
  const held = strategy.score(turn, candidates);
  assert(held[1]! > held[0]!, `home replica b should still win: ${held}`);
  // One block more queued on b: the session's turn goes by load (to a) instead of waiting.
  const more = sized(100, 2);
  strategy.observe!(more, view("b"));
  const shed = strategy.score(turn, candidates);
  assert(shed[0]! > shed[1]!, `idle replica a should win over a home deep in prefill: ${shed}`);
  // The same queue on a as well: b is no worse off than the least queue, and the hint holds again.
  strategy.observe!(sized(HOME_PENDING_PROMPTS * turn.promptChars + 100, 3), view("a"));
  const even = strategy.score(turn, candidates);
  assert(even[1]! > even[0]!, `home replica b should win again: ${even}`);
  // Its first token lets the long prompt's prefill go, and with it b's excess.
  strategy.prefilled!(long, "b");
  strategy.prefilled!(more, "b");
  assert(strategy.score(turn, candidates)[1]! > strategy.score(turn, candidates)[0]!);
});

Deno.test("prefix_aware keeps a session on its home replica while its prompt is under one block", () => {
  const strategy = prefixAware(options());
  const short = { ...request([], "s"), homeBackend: "b" };
  const scores = strategy.score(short, [view("a"), view("b")]);
  assert(scores[1]! > scores[0]!, `home replica b should win: ${scores}`);
  // Past the load bound the home gets no credit, and load decides.
  const busy = strategy.score(short, [view("a"), view("b", { inFlight: 9 })]);
  assert(busy[0]! > busy[1]!, `idle replica a should win over a busy home: ${busy}`);
});

Deno.test("PrefixIndex.dropThrough drops every block held at least as long and bounds the capacity by the blocks newer", () => {
  const index = new PrefixIndex(10);
  index.insert([1, 2, 3]); // stamps: 3 -> 1, 2 -> 2, 1 -> 3
  index.insert([7, 8]); // 8 -> 4, 7 -> 5
  const stamps = index.stamps([1, 2, 3]);
  assertEquals(stamps, [3, 2, 1]);
  // The replica no longer held block 2 (stamp 2): 3 went before it, and 1 (stamp 3) survives.
  assertEquals(index.clock, 5);
  assertEquals(index.dropThrough(stamps[1]!, index.clock), 2);
  assertEquals(index.match([1, 2, 3]), 1);
  assertEquals(index.match([7, 8]), 2);
  // Three blocks were inserted after block 2: the replica holds no more than that.
  assertEquals(index.capacity, 3);
  index.insert([20]);
  assertEquals(index.match([7, 8]) + index.match([1]) + index.match([20]), 3);
});

Deno.test("PrefixIndex remembers what it pushed out for room, and grow() makes room for more", () => {
  const index = new PrefixIndex(2, { max: 4 });
  index.insert([1, 2]);
  index.insert([5, 6]);
  assert(index.pushedOut(1) && index.pushedOut(2));
  assert(!index.pushedOut(5));
  index.grow(5);
  assertEquals(index.capacity, 4);
  index.insert([1, 2]);
  assert(!index.pushedOut(1));
  assertEquals(index.match([5, 6]) + index.match([1, 2]), 4);
});

Deno.test("reportedBlocks converts the replica's tokens with the request's own characters per token", () => {
  const req = { ...request([1, 2, 3, 4]), promptChars: 8192 };
  // 2048 tokens for 8192 chars: 4 chars a token; 1024 cached tokens are two 2048-char blocks.
  assertEquals(reportedBlocks(req, { promptTokens: 2048, cachedTokens: 1024 }, 2048), {
    reported: 2,
    reusable: 3,
  });
  assertEquals(reportedBlocks(req, { promptTokens: 0, cachedTokens: 0 }, 2048), {
    reported: 0,
    reusable: 0,
  });
});

/** Features of a prompt of `blocks` whole 100-char blocks (the test options' block size), 25 tokens a block. */
function prompt(hashes: number[]) {
  return { ...request(hashes), promptChars: hashes.length * 100 + 50 };
}

function report(blocks: number, of: number[]) {
  return { promptTokens: of.length * 25 + 13, cachedTokens: blocks * 25 };
}

/** Routes `req` to `to` and has the replica report what was predicted: the request has ended. */
function serve(s: ReturnType<typeof prefixAware>, req: ReturnType<typeof prompt>, to: BackendView) {
  s.observe!(req, to);
  s.learn!(req, to.id, report(req.predictedPrefixBlocks ?? 0, [...req.prefixHashes]));
}

Deno.test("prefix_aware sets its prediction on the request and learns a replica's evictions", () => {
  const s = prefixAware(options({ prefixCacheBlocks: 100 }));
  const a = view("a");
  serve(s, prompt([1, 2, 3]), a);
  serve(s, prompt([50, 51]), a);
  const turn = prompt([1, 2, 3, 4]);
  s.score(turn, [a]);
  s.observe!(turn, a);
  assertEquals(turn.predictedPrefixBlocks, 3);
  // The replica held only block 1: it lost block 2 with three blocks inserted after it (1, 50,
  // 51), so it holds no more than three; the turn's own blocks, computed again, are the newest.
  s.learn!(turn, "a", report(1, [1, 2, 3, 4]));
  const next = prompt([1, 2, 3, 4, 5]);
  s.observe!(next, a);
  assertEquals(next.predictedPrefixBlocks, 3);
  const other = prompt([50, 51]);
  s.observe!(other, a);
  assertEquals(other.predictedPrefixBlocks, 0);
});

Deno.test("prefix_aware drops blocks the replica evicted but the index still held", () => {
  const s = prefixAware(options({ prefixCacheBlocks: 100 }));
  const a = view("a");
  serve(s, prompt([1, 2, 3]), a);
  serve(s, prompt([9, 10]), a);
  const turn = prompt([9, 10, 11]);
  s.observe!(turn, a);
  assertEquals(turn.predictedPrefixBlocks, 2);
  // The replica had lost block 10: blocks 1-3, older still, are gone too.
  s.learn!(turn, "a", report(1, [9, 10, 11]));
  const old = prompt([1, 2, 3]);
  s.observe!(old, a);
  assertEquals(old.predictedPrefixBlocks, 0);
});

Deno.test("prefix_aware takes no eviction from a block whose request was still in flight", () => {
  const s = prefixAware(options({ prefixCacheBlocks: 100 }));
  const a = view("a");
  serve(s, prompt([50, 51]), a);
  // The first turn is still streaming (or waiting at the replica) when the next one is routed.
  s.observe!(prompt([1, 2, 3]), a);
  const turn = prompt([1, 2, 3, 4]);
  s.observe!(turn, a);
  assertEquals(turn.predictedPrefixBlocks, 3);
  s.learn!(turn, "a", report(0, [1, 2, 3, 4]));
  const other = prompt([50, 51]);
  s.observe!(other, a);
  assertEquals(other.predictedPrefixBlocks, 2);
});

Deno.test("prefix_aware leaves its index alone when the replica reports what it predicted, or for another backend", () => {
  const s = prefixAware(options({ prefixCacheBlocks: 100 }));
  const a = view("a");
  s.observe!(prompt([1, 2]), a);
  s.observe!(prompt([5, 6]), a);
  const turn = prompt([5, 6, 7]);
  s.observe!(turn, a);
  s.learn!(turn, "b", report(0, [5, 6, 7]));
  s.learn!(turn, "a", report(2, [5, 6, 7]));
  const old = prompt([1, 2]);
  s.observe!(old, a);
  assertEquals(old.predictedPrefixBlocks, 2);
});

Deno.test("prefix_aware grows a replica's index when the replica held blocks it had pushed out", () => {
  const s = prefixAware(options({ prefixCacheBlocks: 4 }));
  const a = view("a");
  s.observe!(prompt([1, 2, 3, 4]), a);
  s.observe!(prompt([7, 8]), a); // pushes 3 and 4 out of the 4-block index
  const turn = prompt([1, 2, 3, 4, 5]);
  s.observe!(turn, a);
  assertEquals(turn.predictedPrefixBlocks, 2);
  // The replica still held all four: the index was too small by two blocks.
  s.learn!(turn, "a", report(4, [1, 2, 3, 4, 5]));
  // With room for six, both prompts fit side by side now (with four, 7 and 8 would push 3 and 4 out).
  s.observe!(prompt([7, 8]), a);
  const after = prompt([1, 2, 3, 4, 9]);
  s.observe!(after, a);
  assertEquals(after.predictedPrefixBlocks, 4);
});

/** A prompt of `chars` characters in blocks of 100 (the test options' block), distinct per `seed`. */
function sized(chars: number, seed: number) {
  return request(Array.from({ length: chars / 100 }, (_, i) => seed * 1_000_000 + i));
}

Deno.test("prefix_aware counts the uncached prompt it sent a replica as load until its first token", () => {
  const s = prefixAware(options());
  const big = sized(PENDING_CHARS_PER_REQUEST, 1);
  s.observe!(big, view("a"));
  const other = request([7, 8]);
  // One request's worth of prefill queued on a: as if a had one more request in flight.
  assertEquals(s.score(other, [view("a"), view("b")]), [
    PREFIX_LOAD_SHARE * 0.5,
    PREFIX_LOAD_SHARE,
  ]);
  s.prefilled!(big, "b");
  assertEquals(s.score(other, [view("a"), view("b")])[0], PREFIX_LOAD_SHARE * 0.5);
  s.prefilled!(big, "a");
  s.prefilled!(big, "a");
  assertEquals(s.score(other, [view("a"), view("b")]), [PREFIX_LOAD_SHARE, PREFIX_LOAD_SHARE]);
});

Deno.test("prefix_aware counts only the part of a prompt it expects the replica to have cached", () => {
  const s = prefixAware(options());
  const turn = sized(PENDING_CHARS_PER_REQUEST, 2);
  s.observe!(turn, view("a"));
  s.prefilled!(turn, "a");
  // The same prompt again: a holds all of it, so nothing is left to prefill there.
  const again = { ...turn };
  s.observe!(again, view("a"));
  assertEquals(s.score(request([7, 8]), [view("a"), view("b")]), [
    PREFIX_LOAD_SHARE,
    PREFIX_LOAD_SHARE,
  ]);
});

Deno.test("prefix_aware moves a retried request's prefill work to the replica it retried on", () => {
  const s = prefixAware(options());
  const big = sized(PENDING_CHARS_PER_REQUEST, 3);
  s.observe!(big, view("a"));
  s.observe!(big, view("b"));
  assertEquals(s.score(request([7, 8]), [view("a"), view("b")]), [
    PREFIX_LOAD_SHARE,
    PREFIX_LOAD_SHARE * 0.5,
  ]);
  s.forget!("b");
  assertEquals(s.score(request([7, 8]), [view("a"), view("b")]), [
    PREFIX_LOAD_SHARE,
    PREFIX_LOAD_SHARE,
  ]);
});

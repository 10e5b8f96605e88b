import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { MIN_PREFIX_SHARE, PREFIX_LOAD_SHARE, prefixAware, PrefixIndex } from "./prefix_aware.ts";
import { options, request, view } from "./_testing.ts";

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
  // A shared system prompt: two of five blocks, under the minimum share.
  s.observe!(request([1, 2]), view("a"));
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

Deno.test("prefix_aware prefers a session's home replica when no index knows the prompt", () => {
  const strategy = prefixAware(options());
  const routed = { ...request([1, 2, 3, 4], "s"), homeBackend: "b" };
  const scores = strategy.score(routed, [view("a"), view("b")]);
  assert(scores[1]! > scores[0]!, `home replica b should win: ${scores}`);
  const without = strategy.score(request([1, 2, 3, 4], "s"), [view("a"), view("b")]);
  assertEquals(without[0], without[1]);
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

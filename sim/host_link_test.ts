import { assertAlmostEquals, assertEquals } from "./_assert.ts";
import { HostLink } from "./host_link.ts";
import { newSequence, type Sequence } from "./sequence.ts";

function seq(id: string): Sequence {
  return newSequence({ id, promptTokens: 1, maxTokens: 1, blockHashes: [] }, {}, 0);
}

Deno.test("a load takes its bytes over the bandwidth", () => {
  const link = new HostLink(131_072, 32e9);
  assertAlmostEquals(link.loadMs(8192), 8192 * 131_072 / 32e9 * 1000, 1e-9);
  assertAlmostEquals(link.load(seq("a"), 8192, 100), 100 + link.loadMs(8192), 1e-9);
});

Deno.test("loads share the link one after another and finish in order", () => {
  const link = new HostLink(1000, 1e6);
  const a = seq("a");
  const b = seq("b");
  assertEquals(link.load(a, 10, 0), 10);
  assertEquals(link.load(b, 5, 4), 15);
  assertEquals(link.ids, ["a", "b"]);
  assertEquals(link.nextDoneMs, 10);
  assertEquals(link.takeDone(9), []);
  assertEquals(link.takeDone(15), [a, b]);
  assertEquals(link.size, 0);
  // An idle link starts the next load at once.
  assertEquals(link.load(a, 1, 40), 41);
});

Deno.test("remove() forgets an aborted load but keeps the link busy for its time", () => {
  const link = new HostLink(1000, 1e6);
  const a = seq("a");
  link.load(a, 10, 0);
  link.remove(a);
  assertEquals(link.size, 0);
  assertEquals(link.load(seq("b"), 1, 0), 11);
});

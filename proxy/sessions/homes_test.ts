import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { SessionHomes } from "./homes.ts";

Deno.test("SessionHomes reads a session it has not seen from KV once, then answers from memory and refreshes", async () => {
  const kv = new Map<string, string>([["s1", "replica-a"]]);
  let reads = 0;
  const homes = new SessionHomes((id) => {
    reads++;
    return Promise.resolve(kv.get(id));
  });
  assertEquals(await homes.get("s1"), "replica-a");
  assertEquals(reads, 1);
  // Another gateway served the next call on replica-b: this call still says a, and refreshes.
  kv.set("s1", "replica-b");
  assertEquals(homes.get("s1"), "replica-a");
  await homes.settled();
  assertEquals(homes.get("s1"), "replica-b");
  await homes.settled();
  homes.set("s1", "replica-c");
  kv.set("s1", "replica-c");
  assertEquals(homes.get("s1"), "replica-c");
  await homes.settled();
  assertEquals(await homes.get("unknown"), undefined);
});

Deno.test("SessionHomes routes without a home when the first read is slow or fails", async () => {
  const slow = new SessionHomes(
    (_id) => new Promise((resolve) => setTimeout(() => resolve("late"), 200)),
    { firstReadMs: 5 },
  );
  assertEquals(await slow.get("s"), undefined);
  await slow.settled();
  assertEquals(slow.get("s"), "late");
  await slow.settled();
  const failing = new SessionHomes(() => Promise.reject(new Error("database is locked")));
  assertEquals(await failing.get("s"), undefined);
  await failing.settled();
});

Deno.test("SessionHomes asks its bound at each first read: short alone on the store, longer shared", async () => {
  let shared = false;
  const homes = new SessionHomes(
    (id) => new Promise((resolve) => setTimeout(() => resolve(`home-of-${id}`), 40)),
    { firstReadMs: () => (shared ? 2_000 : 1) },
  );
  // Alone: the call does not wait for the read, which still lands for the next call.
  assertEquals(await homes.get("a"), undefined);
  await homes.settled();
  assertEquals(homes.get("a"), "home-of-a");
  await homes.settled();
  // Another gateway process appeared: a session this process has not seen waits for KV.
  shared = true;
  assertEquals(await homes.get("b"), "home-of-b");
  await homes.settled();
});

Deno.test("SessionHomes keeps at most maxSessions, the least recently served out first", () => {
  const homes = new SessionHomes(() => Promise.resolve(undefined), { maxSessions: 2 });
  homes.set("a", "1");
  homes.set("b", "2");
  homes.set("a", "3");
  homes.set("c", "4");
  assertEquals(homes.size, 2);
});

/** A store's homes and its loneliness, as {@linkcode SessionHomes}' `alone` option reads them. */
function aloneStore(homes: [string, string][]) {
  const state = {
    since: undefined as number | undefined,
    scans: 0,
    reads: 0,
    kv: new Map(homes),
  };
  const alone = {
    since: () => state.since,
    async *scan(): AsyncGenerator<readonly [string, string]> {
      state.scans++;
      for (const entry of [...state.kv]) {
        await Promise.resolve();
        yield entry;
      }
    },
  };
  const lookup = (id: string) => {
    state.reads++;
    return Promise.resolve(state.kv.get(id));
  };
  return { state, alone, lookup };
}

Deno.test("SessionHomes alone on the store answers from memory once its scan of KV's homes has landed", async () => {
  const { state, alone, lookup } = aloneStore([["old", "replica-a"], ["served", "replica-b"]]);
  const homes = new SessionHomes(lookup, { alone, firstReadMs: 1_000 });
  // Not known to be alone yet: KV is read, as before.
  assertEquals(await homes.get("old"), "replica-a");
  await homes.settled();
  assertEquals(state.scans, 0);
  state.since = 1;
  homes.set("served", "replica-c");
  // The first call alone starts the scan and still reads; once it landed, nothing is read.
  assertEquals(await homes.get("new-1"), undefined);
  await homes.settled();
  assertEquals(state.scans, 1);
  const reads = state.reads;
  assertEquals(homes.get("new-2"), undefined);
  assertEquals(homes.get("old"), "replica-a");
  // This process's own choice is newer than what KV held when the scan read it.
  assertEquals(homes.get("served"), "replica-c");
  homes.set("new-2", "replica-d");
  assertEquals(homes.get("new-2"), "replica-d");
  assertEquals(state.reads, reads);
  assertEquals(state.scans, 1);

  // Another gateway process came: it may write homes, so KV is read again.
  state.since = undefined;
  state.kv.set("theirs", "replica-e");
  assertEquals(await homes.get("theirs"), "replica-e");
  await homes.settled();
  assertEquals(state.reads, reads + 1);
  // Alone again: a new scan, then memory alone (the other process's homes included).
  state.kv.set("theirs-2", "replica-f");
  state.since = 2;
  assertEquals(await homes.get("x"), undefined);
  await homes.settled();
  assertEquals(state.scans, 2);
  const after = state.reads;
  assertEquals(homes.get("theirs-2"), "replica-f");
  assertEquals(state.reads, after);
});

Deno.test("SessionHomes keeps reading KV alone when the map cannot hold every home, or dropped one", async () => {
  const many = aloneStore([["a", "1"], ["b", "2"], ["c", "3"]]);
  many.state.since = 1;
  const small = new SessionHomes(many.lookup, { alone: many.alone, maxSessions: 2 });
  assertEquals(await small.get("z"), undefined);
  await small.settled();
  // The scan stopped at the map's bound: a session it did not hold is still read.
  const reads = many.state.reads;
  assertEquals(await small.get("c"), "3");
  await small.settled();
  assertEquals(many.state.reads, reads + 1);
  assertEquals(many.state.scans, 1);

  const few = aloneStore([["a", "1"]]);
  few.state.since = 1;
  const homes = new SessionHomes(few.lookup, { alone: few.alone, maxSessions: 2 });
  assertEquals(await homes.get("z"), undefined);
  await homes.settled();
  const before = few.state.reads;
  assertEquals(homes.get("a"), "1");
  assertEquals(few.state.reads, before);
  // Two more sessions served: "a" is dropped for room, so KV is asked again (and not rescanned).
  homes.set("b", "2");
  homes.set("c", "3");
  assertEquals(await homes.get("a"), "1");
  await homes.settled();
  assertEquals(few.state.reads, before + 1);
  assertEquals(few.state.scans, 1);
});

Deno.test("SessionHomes alone falls back to reads when its scan fails", async () => {
  let reads = 0;
  const homes = new SessionHomes(
    (_id) => {
      reads++;
      return Promise.resolve("replica-a");
    },
    {
      alone: {
        since: () => 1,
        // deno-lint-ignore require-yield
        async *scan() {
          throw new Error("database is locked");
        },
      },
    },
  );
  assertEquals(await homes.get("s"), "replica-a");
  await homes.settled();
  assertEquals(await homes.get("t"), "replica-a");
  await homes.settled();
  assertEquals(reads, 2);
});

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

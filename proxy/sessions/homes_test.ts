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

Deno.test("SessionHomes keeps at most maxSessions, the least recently served out first", () => {
  const homes = new SessionHomes(() => Promise.resolve(undefined), { maxSessions: 2 });
  homes.set("a", "1");
  homes.set("b", "2");
  homes.set("a", "3");
  homes.set("c", "4");
  assertEquals(homes.size, 2);
});

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { consistentHash, HashRing, QpsWindow, sessionRouterChoice } from "./consistent_hash.ts";
import { options, request, view } from "./_testing.ts";
import type { BackendView } from "./types.ts";

const URLS = [1, 2, 3, 4].map((i) => `http://127.0.0.1:590${i}`);

function backends(urls: readonly string[]): BackendView[] {
  return urls.map((url) => view(url.slice(-4), { url }));
}

function ringOf(urls: readonly string[]): HashRing {
  const ring = new HashRing();
  for (const u of urls) ring.add(u);
  return ring;
}

Deno.test("HashRing places keys as uhashring's default HashRing() does", () => {
  // Expected nodes from the same algorithm written in Python (MD5 of "{node}-{w}" for 160 vnodes,
  // bisect right of the key's MD5, wrap to the first point).
  const ring = ringOf(URLS);
  const expected: Record<string, string> = {
    "session-1": "5903",
    "session-2": "5904",
    s3: "5904",
    abc: "5902",
    "conversation-42": "5904",
    x: "5904",
  };
  for (const [key, port] of Object.entries(expected)) assertEquals(ring.get(key)!.slice(-4), port);
  assertEquals(new HashRing().get("k"), undefined);
});

Deno.test("HashRing moves only the sessions of a node that joins or leaves", () => {
  const sessions = Array.from({ length: 2000 }, (_, i) => `session-${i}`);
  const before = ringOf(URLS);
  const placed = new Map(sessions.map((s) => [s, before.get(s)!]));
  const fifth = "http://127.0.0.1:5905";
  const grown = ringOf([...URLS, fifth]);
  let moved = 0;
  for (const s of sessions) {
    const now = grown.get(s)!;
    if (now !== placed.get(s)) {
      moved++;
      assertEquals(now, fifth, `${s} moved between old nodes`);
    }
  }
  // About a fifth of the sessions move to the new node, and only those.
  assert(moved > 2000 * 0.1 && moved < 2000 * 0.3, `moved ${moved}`);
  const shrunk = ringOf(URLS);
  shrunk.remove(URLS[0]!);
  for (const s of sessions) {
    if (placed.get(s) !== URLS[0]) assertEquals(shrunk.get(s), placed.get(s));
    else assert(shrunk.get(s) !== URLS[0]);
  }
});

Deno.test("the session router skips a node that is not a candidate to the next one clockwise", () => {
  const ring = ringOf(URLS);
  const qps = new QpsWindow();
  const home = ring.get("session-1")!;
  const all = backends(URLS);
  assertEquals(all[sessionRouterChoice(ring, qps, "session-1", all, 0)]!.url, home);
  const without = all.filter((b) => b.url !== home);
  const other = without[sessionRouterChoice(ring, qps, "session-1", without, 0)]!.url;
  const rebuilt = ringOf(URLS.filter((u) => u !== home));
  assertEquals(other, rebuilt.get("session-1"));
});

Deno.test("without a session the router takes an endpoint never routed to, then the lowest QPS", () => {
  const ring = new HashRing();
  const qps = new QpsWindow(60_000);
  const all = backends(URLS);
  qps.record(URLS[0]!, 0);
  qps.record(URLS[1]!, 0);
  qps.record(URLS[1]!, 1);
  assertEquals(sessionRouterChoice(ring, qps, undefined, all, 10), 2);
  qps.record(URLS[2]!, 5);
  qps.record(URLS[3]!, 5);
  qps.record(URLS[3]!, 6);
  // 0 and 2 have one request each in the window; the first of them wins.
  assertEquals(sessionRouterChoice(ring, qps, undefined, all, 10), 0);
  // 70 s on, every request has left the 60 s window: all endpoints are at 0 QPS, the first wins.
  assertEquals(qps.qps(URLS[1]!, 70_000), 0);
  assertEquals(sessionRouterChoice(ring, qps, undefined, all, 70_000), 0);
});

Deno.test("consistent_hash keeps a session on its ring node whatever the load, and forgets a backend", () => {
  let now = 0;
  const s = consistentHash({ ...options(), now: () => now });
  const all = backends(URLS);
  const home = ringOf(URLS).get("conversation-42")!;
  const busy = all.map((b) => (b.url === home ? { ...b, inFlight: 50 } : b));
  const scores = s.score(request([], "conversation-42"), busy);
  assertEquals(scores.filter((x) => x === 1).length, 1);
  assertEquals(busy[scores.indexOf(1)]!.url, home);
  // Sessionless requests spread: each pick is counted, so four go to four endpoints.
  const picked = new Set<string>();
  for (let i = 0; i < 4; i++) {
    now += 10;
    const sc = s.score(request(), all);
    const chosen = all[sc.indexOf(1)]!;
    s.observe!(request(), chosen);
    picked.add(chosen.id);
  }
  assertEquals(picked.size, 4);
  const homeId = all.find((b) => b.url === home)!.id;
  s.forget!(homeId);
  const rest = all.filter((b) => b.id !== homeId);
  const after = s.score(request([], "conversation-42"), rest);
  const rebuilt = ringOf(URLS.filter((u) => u !== home));
  assertEquals(rest[after.indexOf(1)]!.url, rebuilt.get("conversation-42"));
});

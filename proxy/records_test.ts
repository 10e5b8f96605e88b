import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { noteReplicaLoad, percentiles, RecordStore, startRecord } from "./records.ts";
import { record } from "./_record_fixture.ts";

Deno.test("RecordStore keeps only its capacity, newest first", () => {
  const store = new RecordStore({ capacity: 3 });
  for (let i = 1; i <= 5; i++) store.add(record(i));
  assertEquals(store.recent().map((r) => r.requestId), ["r5", "r4", "r3"]);
  assertEquals(store.recent({ limit: 2 }).map((r) => r.requestId), ["r5", "r4"]);
  const stats = store.stats();
  assertEquals([stats.total, stats.kept, stats.promptTokens, stats.completionTokens], [5, 3, 6, 9]);
});

Deno.test("RecordStore filters by session and tells its listeners", () => {
  const store = new RecordStore();
  const seen: string[] = [];
  const unsubscribe = store.subscribe((r) => seen.push(r.requestId));
  store.add(record(1, { sessionId: "s1", status: 502, backendId: "b2" }));
  store.add(record(2, { sessionId: "s2" }));
  unsubscribe();
  store.add(record(3, { sessionId: "s1" }));
  assertEquals(seen, ["r1", "r2"]);
  assertEquals(store.recent({ sessionId: "s1" }).map((r) => r.requestId), ["r3", "r1"]);
  const stats = store.stats();
  assertEquals(stats.byStatus, { "5xx": 1, "2xx": 2 });
  assertEquals(stats.byBackend, { b2: 1, b1: 2 });
  assertEquals(stats.sessions, 2);
});

Deno.test("percentiles interpolates between the nearest ranks and is empty for no values", () => {
  assertEquals(percentiles([]), { p50: undefined, p95: undefined, p99: undefined });
  const values = Array.from({ length: 101 }, (_, i) => 100 - i);
  assertEquals(percentiles(values), { p50: 50, p95: 95, p99: 99 });
  const even = percentiles([40, 10, 30, 20]);
  assertEquals([even.p50, even.p95], [25, 38.5]);
  assertEquals(Math.abs(even.p99! - 39.7) < 1e-9, true);
});

Deno.test("startRecord reads the configured session and timing headers of a request", () => {
  const request = new Request("http://x/v1/chat/completions", {
    headers: { "x-sess": "s-1", "x-task": "t-1", "x-pre": "12.5", "x-post": "soon" },
  });
  const names = {
    session: "x-sess",
    task: "x-task",
    client: "x-client",
    timing_pre: "x-pre",
    timing_post: "x-post",
    priority: "x-priority",
  };
  const started = startRecord(request, {
    requestId: "r",
    endpoint: "/v1/chat/completions",
    startedAtMs: 7,
    names,
  });
  assertEquals(
    [
      started.sessionId,
      started.taskId,
      started.clientId,
      started.clientPreMs,
      started.clientPostMs,
    ],
    ["s-1", "t-1", undefined, 12.5, undefined],
  );
  assertEquals([started.status, started.attempts, started.startedAtMs], [0, 0, 7]);
});

Deno.test("RecordStore.page() walks the kept records by index, across the ring's wrap and new arrivals", () => {
  const store = new RecordStore({ capacity: 4 });
  for (let i = 1; i <= 5; i++) store.add(record(i, { sessionId: i % 2 === 0 ? "even" : "odd" }));
  const first = store.page({ limit: 2 });
  assertEquals(first.records.map((r) => r.requestId), ["r5", "r4"]);
  store.add(record(6));
  const second = store.page({
    limit: 2,
    ...(first.next === undefined ? {} : { before: first.next }),
  });
  // r6 pushed r2 out of the ring: the page ends at r3.
  assertEquals([second.records.map((r) => r.requestId), second.next], [["r3"], undefined]);
  const odd = store.page({ limit: 10, filter: { sessionId: "odd" } });
  assertEquals(odd.records.map((r) => r.requestId), ["r5", "r3"]);
  assertEquals(store.page({ limit: 1, filter: { status: "2xx" } }).next, 5);
});

Deno.test("noteReplicaLoad() takes the batch at the pick and the queue time from a scrape after the request arrived", () => {
  const atPick = { running: 80, waiting: 3, kvUsage: 0.5, scrapedAtMs: 900, recentQueueMs: 10 };
  const latest = {
    running: 2,
    waiting: 0,
    kvUsage: 0.1,
    scrapedAtMs: 1200,
    recentQueueMs: 250,
    recentPreemptions: 1,
  };
  const r = record(1000);
  noteReplicaLoad(r, atPick, latest);
  assertEquals(
    [r.replicaRunning, r.replicaWaiting, r.replicaKvUsage, r.replicaQueueMs, r.replicaPreemptions],
    [80, 3, 0.5, 250, 1],
  );
  const stale = record(1000);
  noteReplicaLoad(stale, atPick, { ...latest, scrapedAtMs: 950 });
  assertEquals([stale.replicaQueueMs, stale.replicaPreemptions], [10, undefined]);
  const never = record(1000);
  noteReplicaLoad(never, undefined);
  assertEquals(never.replicaRunning, undefined);
});

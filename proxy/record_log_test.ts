import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { RecordsSchema } from "../config/mod.ts";
import { withKvPath } from "../actors/runtime/testdata/temp_kv.ts";
import { waitFor } from "../actors/runtime/testdata/wait.ts";
import { RecordLog } from "./record_log.ts";
import { RecordStore } from "./records.ts";
import { record } from "./_record_fixture.ts";

function logOn(kv: Deno.Kv, node: string, config: Record<string, unknown>, now?: () => number) {
  return new RecordLog(kv, {
    nodeId: node,
    config: RecordsSchema.parse(config),
    ...(now ? { now } : {}),
  });
}

async function ids(log: RecordLog): Promise<string[]> {
  return (await log.page({ limit: 1000 })).records.map((r) => r.requestId);
}

Deno.test("RecordLog writes a record only with its batch, after the flush interval", async () => {
  await withKvPath("turnpike-record-log-", async (path) => {
    const kv = await Deno.openKv(path);
    const log = logOn(kv, "a", { flush_interval: 0.3 });
    try {
      const store = new RecordStore();
      log.follow(store);
      const added = performance.now();
      for (let i = 1; i <= 3; i++) store.add(record(i));
      assertEquals(await ids(log), [], "nothing is written while the batch waits");
      await waitFor("the batch to be written", async () => (await ids(log)).length === 3);
      assert(performance.now() - added >= 250, "the batch waited for its interval");
      assertEquals(await ids(log), ["r3", "r2", "r1"]);
    } finally {
      await log.close();
      kv.close();
    }
  });
});

Deno.test("RecordLog writes at once when flush_records records wait, and close() writes the rest", async () => {
  await withKvPath("turnpike-record-log-", async (path) => {
    const kv = await Deno.openKv(path);
    const log = logOn(kv, "a", { flush_interval: 60, flush_records: 4 });
    try {
      for (let i = 1; i <= 4; i++) log.add(record(i));
      await waitFor("the full batch to be written", async () => (await ids(log)).length === 4, {
        timeoutMs: 5_000,
      });
      assertEquals(await ids(log), ["r4", "r3", "r2", "r1"]);
      log.add(record(5));
      await new Promise((resolve) => setTimeout(resolve, 300));
      assertEquals((await ids(log)).length, 4, "one record waits for its interval");
      await log.close();
      assertEquals((await ids(log))[0], "r5");
    } finally {
      await log.close();
      kv.close();
    }
  });
});

Deno.test("two logs on one KV file read each other's records, newest first, by filter and page", async () => {
  await withKvPath("turnpike-record-log-", async (path) => {
    const [kvA, kvB] = [await Deno.openKv(path), await Deno.openKv(path)];
    const a = logOn(kvA, "node-a", {});
    const b = logOn(kvB, "node-b", {});
    try {
      a.add(record(1, { sessionId: "s1" }));
      await a.flush();
      b.add(record(2, { sessionId: "s1", status: 502, model: "other" }));
      await b.flush();
      a.add(record(3, { sessionId: "s2", status: 404 }));
      await a.flush();
      const all = (await b.page({ limit: 10 })).records;
      assertEquals(all.map((r) => [r.requestId, r.node]), [
        ["r3", "node-a"],
        ["r2", "node-b"],
        ["r1", "node-a"],
      ]);
      assertEquals(all[2]?.sessionId, "s1");
      const ofS1 = await a.page({ limit: 10, filter: { sessionId: "s1" } });
      assertEquals(ofS1.records.map((r) => r.requestId), ["r2", "r1"]);
      const errors = await a.page({ limit: 10, filter: { status: "5xx" } });
      assertEquals(errors.records.map((r) => r.requestId), ["r2"]);
      assertEquals((await a.page({ limit: 10, filter: { status: 404 } })).records.length, 1);
      assertEquals((await a.page({ limit: 10, filter: { model: "other" } })).records.length, 1);

      const first = await b.page({ limit: 2 });
      assertEquals(first.records.map((r) => r.requestId), ["r3", "r2"]);
      assert(first.next !== undefined);
      b.add(record(4));
      await b.flush();
      const second = await b.page({ limit: 2, before: first.next });
      assertEquals([second.records.map((r) => r.requestId), second.next], [["r1"], undefined]);
    } finally {
      await a.close();
      await b.close();
      kvA.close();
      kvB.close();
    }
  });
});

Deno.test("concurrent batches from two logs get distinct places and none is lost", async () => {
  await withKvPath("turnpike-record-log-", async (path) => {
    const [kvA, kvB] = [await Deno.openKv(path), await Deno.openKv(path)];
    const a = logOn(kvA, "node-a", { flush_records: 5 });
    const b = logOn(kvB, "node-b", { flush_records: 5 });
    try {
      for (let i = 0; i < 40; i++) {
        a.add(record(i, { requestId: `a${i}` }));
        b.add(record(i, { requestId: `b${i}` }));
      }
      await Promise.all([a.close(), b.close()]);
      const snapshot = await a.snapshot();
      assertEquals(snapshot.total, 80);
      assertEquals(new Set(snapshot.records.map((r) => r.requestId)).size, 80);
      const mine = snapshot.records.filter((r) => r.node === "node-a").map((r) => r.requestId);
      assertEquals(
        mine,
        Array.from({ length: 40 }, (_, i) => `a${39 - i}`),
        "each log's order holds",
      );
      assertEquals([a.dropped, b.dropped], [0, 0]);
    } finally {
      kvA.close();
      kvB.close();
    }
  });
});

Deno.test("the log keeps the newest `retention` records and hides one past its ttl", async () => {
  await withKvPath("turnpike-record-log-", async (path) => {
    const kv = await Deno.openKv(path);
    let clock = 1_000_000;
    const log = logOn(kv, "a", { retention: 3, ttl: 60 }, () => clock);
    try {
      for (let i = 1; i <= 10; i++) {
        log.add(record(i));
        if (i % 4 === 0) await log.flush();
      }
      await log.flush();
      const snapshot = await log.snapshot();
      assertEquals([snapshot.total, snapshot.records.map((r) => r.requestId)], [10, [
        "r10",
        "r9",
        "r8",
      ]]);
      const keys = await Array.fromAsync(kv.list({ prefix: ["request_log", "record"] }));
      assertEquals(keys.length, 3, "older records are deleted, not only hidden");
      clock += 61_000;
      assertEquals(await ids(log), []);
      assertEquals((await log.snapshot()).records, []);
    } finally {
      await log.close();
      kv.close();
    }
  });
});

Deno.test("a record too large for a KV value is dropped and counted, and its batch is written", async () => {
  await withKvPath("turnpike-record-log-", async (path) => {
    const kv = await Deno.openKv(path);
    const log = logOn(kv, "a", {});
    try {
      log.add(record(1));
      log.add(record(2, { sessionId: "s".repeat(70_000) }));
      // Many records of 20 KB each: more than one atomic operation can carry.
      for (let i = 3; i <= 60; i++) log.add(record(i, { error: "e".repeat(10_000) }));
      await log.close();
      const kept = await ids(log);
      assertEquals(kept.length, 59);
      assertEquals(kept.at(-1), "r1");
      assertEquals(kept.includes("r2"), false);
      assertEquals(log.dropped, 1);
    } finally {
      await log.close();
      kv.close();
    }
  });
});

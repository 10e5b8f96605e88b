import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { RecordsSchema } from "../config/mod.ts";
import { withKvPath } from "../actors/runtime/testdata/temp_kv.ts";
import { waitFor } from "../actors/runtime/testdata/wait.ts";
import { serialize } from "node:v8";
import { RecordLog, recordSizeBound } from "./record_log.ts";
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

/** The request ids of every record in KV, oldest first, read or not. */
async function storedIds(kv: Deno.Kv): Promise<string[]> {
  const values = await Array.fromAsync(kv.list<{ records: { requestId: string }[] }>({
    prefix: ["request_log", "record"],
  }));
  return values.flatMap((entry) => entry.value.records.map((r) => r.requestId));
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
      // Batches of 4, 4 and 2 records: the first is all past the retention, the second not yet.
      assertEquals(
        await storedIds(kv),
        ["r5", "r6", "r7", "r8", "r9", "r10"],
        "older runs are deleted",
      );
      clock += 61_000;
      assertEquals(await ids(log), []);
      assertEquals((await log.snapshot()).records, []);
    } finally {
      await log.close();
      kv.close();
    }
  });
});

Deno.test("a prune waits until a quarter of the retention is past the oldest run; reads hide the rest meanwhile", async () => {
  await withKvPath("turnpike-record-log-", async (path) => {
    const kv = await Deno.openKv(path);
    // Retention 8: a prune runs once 2 more records than the oldest run left are past it.
    const log = logOn(kv, "a", { retention: 8 });
    const range = (from: number, to: number) =>
      Array.from({ length: to - from + 1 }, (_, i) => `r${from + i}`);
    try {
      const stored: string[][] = [];
      const read: string[][] = [];
      for (let i = 1; i <= 13; i++) {
        log.add(record(i));
        await log.flush();
        stored.push(await storedIds(kv));
        read.push((await ids(log)).toReversed());
      }
      // One run a record. r9 puts r1 past the retention, r10 r2: that prune deletes both.
      assertEquals(stored[8], range(1, 9));
      assertEquals(stored[9], range(3, 10));
      // The next prune waits for r13, which puts r5 past the retention: r3 to r5 go.
      assertEquals(stored.slice(10, 12), [range(3, 11), range(3, 12)]);
      assertEquals(stored[12], range(6, 13));
      read.forEach((kept, i) => assertEquals(kept, range(Math.max(1, i - 6), i + 1)));
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

Deno.test("a batch is read back record by record: pages cut inside it, and the next page starts there", async () => {
  await withKvPath("turnpike-record-log-", async (path) => {
    const kv = await Deno.openKv(path);
    const log = logOn(kv, "a", {});
    try {
      for (let i = 1; i <= 5; i++) log.add(record(i, { status: i === 3 ? 500 : 200 }));
      await log.flush();
      const seen: string[] = [];
      let before: bigint | undefined;
      do {
        const page = await log.page({ limit: 2, ...(before === undefined ? {} : { before }) });
        seen.push(page.records.map((r) => r.requestId).join(","));
        before = page.next;
      } while (before !== undefined);
      assertEquals(seen, ["r5,r4", "r3,r2", "r1"]);
      const errors = await log.page({ limit: 10, filter: { status: "5xx" } });
      assertEquals([errors.records.map((r) => [r.requestId, r.node]), errors.next], [
        [["r3", "a"]],
        undefined,
      ]);
    } finally {
      await log.close();
      kv.close();
    }
  });
});

Deno.test("records an earlier version stored one a key are read, and deleted once past the retention", async () => {
  await withKvPath("turnpike-record-log-", async (path) => {
    const kv = await Deno.openKv(path);
    const farAhead = Date.now() + 3_600_000;
    const op = kv.atomic().set(["request_log", "head"], new Deno.KvU64(3n));
    for (let i = 1; i <= 3; i++) {
      op.set(["request_log", "record", BigInt(i)], {
        node: "old",
        expires_at_ms: farAhead,
        record: record(i),
      });
    }
    await op.commit();
    const log = logOn(kv, "a", { retention: 4 });
    try {
      assertEquals(await ids(log), ["r3", "r2", "r1"]);
      for (let i = 4; i <= 6; i++) log.add(record(i));
      await log.flush();
      const snapshot = await log.snapshot();
      assertEquals(
        [snapshot.total, snapshot.records.map((r) => `${r.requestId}@${r.node}`)],
        [6, ["r6@a", "r5@a", "r4@a", "r3@old"]],
      );
      const left = await Array.fromAsync(kv.list({ prefix: ["request_log", "record"] }));
      assertEquals(left.map((entry) => entry.key[2]), [3n, 4n], "r1 and r2 are deleted");
    } finally {
      await log.close();
      kv.close();
    }
  });
});

Deno.test("recordSizeBound is at least a record's serialized size, in one or two bytes a character", () => {
  for (
    const r of [
      record(1),
      record(2, { error: "e".repeat(5_000), sessionId: "s".repeat(300) }),
      record(3, { error: "\u00e9\u4e2d\u{1F600}".repeat(2_000), routeReason: "\u4e2d" }),
      record(4, { queueMs: 1.5e300, attempts: 2 ** 40, clientId: "" }),
    ]
  ) {
    const bytes = serialize(r).byteLength;
    assert(recordSizeBound(r) >= bytes, `${recordSizeBound(r)} < ${bytes}`);
    assert(recordSizeBound(r) < 3 * bytes + 1_024, "the bound is not wildly above the size");
  }
});

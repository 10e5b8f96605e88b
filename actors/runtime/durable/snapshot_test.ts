import assert from "node:assert/strict";
import { withOpenKv } from "../testdata/temp_kv.ts";
import { addSnapshot, CHUNK_BYTES, MAX_SNAPSHOT_BYTES, readSnapshot } from "./snapshot.ts";

function withKv(fn: (kv: Deno.Kv) => Promise<void>): Promise<void> {
  return withOpenKv("turnpike-snapshot-", fn);
}

const key = { kind: "doc", id: "d1" };

async function chunkVersions(kv: Deno.Kv): Promise<string[]> {
  const versions = new Set<string>();
  for await (const e of kv.list({ prefix: ["actor_chunk", "doc", "d1"] })) {
    versions.add(String(e.key[3]));
  }
  return [...versions];
}

Deno.test("a small snapshot is stored inline in its header and read back", async () => {
  await withKv(async (kv) => {
    const op = kv.atomic();
    const layout = addSnapshot(op, key, { n: 1, s: "x" }, undefined);
    assert.equal((await op.commit()).ok, true);
    assert.equal(layout.chunks, 0);
    assert.deepEqual(await readSnapshot(kv, key), { value: { n: 1, s: "x" }, layout });
    assert.deepEqual(await chunkVersions(kv), []);
  });
});

Deno.test("a snapshot over 64 KiB is chunked, and the next one deletes the old chunks", async () => {
  await withKv(async (kv) => {
    const big = { text: "a".repeat(3 * CHUNK_BYTES) };
    let op = kv.atomic();
    const first = addSnapshot(op, key, big, undefined);
    await op.commit();
    assert.equal(first.chunks, 4);
    assert.deepEqual((await readSnapshot(kv, key))?.value, big);
    const bigger = { text: "b".repeat(5 * CHUNK_BYTES) };
    op = kv.atomic();
    const second = addSnapshot(op, key, bigger, first);
    await op.commit();
    assert.deepEqual((await readSnapshot(kv, key))?.value, bigger);
    assert.deepEqual(await chunkVersions(kv), [second.version]);
    op = kv.atomic();
    addSnapshot(op, key, { small: true }, second);
    await op.commit();
    assert.deepEqual(await chunkVersions(kv), []);
  });
});

Deno.test("a snapshot whose commit fails leaves the previous one whole", async () => {
  await withKv(async (kv) => {
    let op = kv.atomic();
    const first = addSnapshot(op, key, { text: "a".repeat(2 * CHUNK_BYTES) }, undefined);
    await op.commit();
    op = kv.atomic().check({ key: ["guard"], versionstamp: "00000000000000ff0000" });
    addSnapshot(op, key, { text: "b".repeat(4 * CHUNK_BYTES) }, first);
    assert.equal((await op.commit()).ok, false);
    assert.deepEqual((await readSnapshot(kv, key))?.value, { text: "a".repeat(2 * CHUNK_BYTES) });
  });
});

Deno.test("a snapshot above the atomic-operation budget is refused with advice", async () => {
  await withKv((kv) => {
    assert.throws(
      () => addSnapshot(kv.atomic(), key, { text: "c".repeat(MAX_SNAPSHOT_BYTES) }, undefined),
      /Snapshot of doc\/d1 is \d+ bytes; the limit is \d+: keep less state/,
    );
    return Promise.resolve();
  });
});

Deno.test("readSnapshot() answers undefined for an actor that never saved", async () => {
  await withKv(async (kv) => {
    assert.equal(await readSnapshot(kv, key), undefined);
  });
});

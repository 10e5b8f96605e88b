import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import { MAX_RECORD_BYTES, RecordTooLargeError } from "./chunked.ts";
import { GroupCommitter, type GroupWrite } from "./group_commit.ts";

async function withKv(fn: (kv: Deno.Kv) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-group-commit-" });
  const kv = await Deno.openKv(`${dir}/kv.sqlite`);
  try {
    await fn(kv);
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function write(id: string, expected: string | null, value: unknown = { id }): GroupWrite {
  return {
    key: ["head", id],
    expected,
    head: { id },
    records: [{ key: ["record", id, 1], value }],
  };
}

Deno.test("concurrent commits of many sessions all land, sharing commits", async () => {
  await withKv(async (kv) => {
    const group = new GroupCommitter(kv);
    const stamps = await Promise.all(
      Array.from({ length: 80 }, (_, i) => group.commit(write(`s${i}`, null))),
    );
    assert(stamps.every((s) => typeof s === "string"));
    // Writes that waited together went out in one commit and share its versionstamp.
    assert(new Set(stamps).size < stamps.length, `${new Set(stamps).size} commits for 80`);
    for (let i = 0; i < 80; i++) {
      const head = await kv.get(["head", `s${i}`]);
      assertEquals(head.value, { id: `s${i}` });
      assertEquals(head.versionstamp, stamps[i]);
      assert((await kv.get(["record", `s${i}`, 1, 0])).value instanceof Uint8Array);
    }
  });
});

Deno.test("a failed check or a record too large fails only its own commit", async () => {
  await withKv(async (kv) => {
    const group = new GroupCommitter(kv);
    const first = await group.commit(write("a", null));
    assert(first !== undefined);
    const big = "x".repeat(MAX_RECORD_BYTES + 1);
    const results = await Promise.allSettled([
      group.commit(write("b", null)),
      group.commit(write("a", null)), // stale: "a" exists now
      group.commit(write("c", null)),
      group.commit(write("d", null, big)),
      group.commit(write("e", null)),
    ]);
    const [b, staleA, c, d, e] = results;
    for (const ok of [b, c, e]) {
      assert(ok!.status === "fulfilled" && typeof ok.value === "string", JSON.stringify(ok));
    }
    assert(staleA!.status === "fulfilled" && staleA.value === undefined);
    assert(d!.status === "rejected" && d.reason instanceof RecordTooLargeError);
    assertEquals((await kv.get(["head", "a"])).versionstamp, first);
    assertEquals((await kv.get(["head", "d"])).versionstamp, null);
    await rejects(group.commit(write("f", null, big)), RecordTooLargeError);
  });
});

Deno.test("two writes of one key in a burst go in separate commits, in order", async () => {
  await withKv(async (kv) => {
    const group = new GroupCommitter(kv);
    const [one, two] = await Promise.all([
      group.commit({ ...write("a", null), head: { n: 1 } }),
      group.commit({ ...write("a", null), head: { n: 2 } }),
    ]);
    assert(typeof one === "string");
    // The second expected no head, and found the first's: it is refused, not applied over it.
    assertEquals(two, undefined);
    assertEquals((await kv.get(["head", "a"])).value, { n: 1 });
  });
});

import assert from "node:assert/strict";
import { leaseKey } from "../actors/runtime/mod.ts";
import { readSnapshot } from "../actors/runtime/mod.ts";
import { Worker } from "../actors/runtime/testdata/child.ts";
import { waitFor } from "../actors/runtime/testdata/wait.ts";

interface Counter {
  count: number;
  applied: string[];
  writers: string[];
}

function ids(prefix: string, n: number, from: string): string[] {
  return Array.from({ length: n }, (_, i) => `${from}:${prefix}-${i}`);
}

Deno.test("two processes on one KV file never both act as the writer of one actor", async () => {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-lease-" });
  const path = `${dir}/state.kv`;
  const common = ["--kv", path, "--lease-ttl", "800"];
  const kv = await Deno.openKv(path);
  const read = async () =>
    (await readSnapshot(kv, { kind: "counter", id: "shared" }))?.value as Counter | undefined;
  // a writes first and keeps the actor in memory; once a's lease lapses b takes over; then a
  // gets more messages while its in-memory state is stale: only the fencing token stops a's
  // stale commit from overwriting b's work.
  const a = Worker.start([...common, "--node", "a", "--send-adds", "a:30", "--on-usr1", "late:30"]);
  let b: Worker | undefined;
  try {
    await waitFor("a's 30 adds", async () => (await read())?.count === 30, { timeoutMs: 30_000 });
    await waitFor("a's lease to lapse", async () => {
      const lease = (await kv.get<{ expiresAtMs: number }>(leaseKey("counter", "shared"))).value;
      return lease !== null && lease.expiresAtMs < Date.now();
    }, { timeoutMs: 30_000, everyMs: 50 });
    b = Worker.start([...common, "--node", "b", "--send-adds", "b:30"]);
    await waitFor("b's 30 adds", async () => (await read())?.count === 60, { timeoutMs: 30_000 });
    a.signal("SIGUSR1");
    const state = await waitFor("a's 30 late adds", async () => {
      const s = await read();
      return s && s.applied.filter((x) => x.includes(":late-")).length === 30 ? s : undefined;
    }, { timeoutMs: 30_000, everyMs: 100 });
    assert.equal(state.count, 90, "no update was lost or applied twice");
    assert.deepEqual(
      state.applied.toSorted(),
      [...ids("a", 30, "a"), ...ids("b", 30, "b"), ...ids("late", 30, "a")].toSorted(),
    );
    // b may also pick up some of a's forwarded messages while it holds the lease.
    assert.deepEqual(state.writers.slice(0, 2), ["a", "b"], "a wrote first, then b took over");
  } finally {
    kv.close();
    await a.kill("SIGKILL");
    await b?.kill("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

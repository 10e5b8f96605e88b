import assert from "node:assert/strict";
import { withOpenKv } from "../testdata/temp_kv.ts";
import { acquireLease, releaseLease, renewLeaseIn } from "./lease.ts";

const key = { kind: "k", id: "1" };

function withKv(fn: (kv: Deno.Kv) => Promise<void>): Promise<void> {
  return withOpenKv("turnpike-lease-", fn);
}

Deno.test("a held lease refuses another node until it expires", async () => {
  await withKv(async (kv) => {
    const a = await acquireLease(kv, key, { owner: "a", ttlMs: 60_000 });
    assert.equal(a.ok, true);
    const b = await acquireLease(kv, key, { owner: "b", ttlMs: 60_000 });
    assert.equal(b.ok, false);
    assert.equal(b.ok ? "" : b.owner, "a");
  });
});

Deno.test("a stale holder's commit is rejected by the fencing token", async () => {
  await withKv(async (kv) => {
    const a = await acquireLease(kv, key, { owner: "a", ttlMs: 1 });
    assert.ok(a.ok);
    await new Promise((r) => setTimeout(r, 5));
    const b = await acquireLease(kv, key, { owner: "b", ttlMs: 60_000 });
    assert.ok(b.ok, "an expired lease can be taken");
    const stale = kv.atomic();
    renewLeaseIn(stale, key, { token: a.token, owner: "a", ttlMs: 60_000 });
    stale.set(["state"], "written by a");
    assert.equal((await stale.commit()).ok, false);
    const fresh = kv.atomic();
    renewLeaseIn(fresh, key, { token: b.token, owner: "b", ttlMs: 60_000 });
    fresh.set(["state"], "written by b");
    assert.equal((await fresh.commit()).ok, true);
    assert.equal((await kv.get(["state"])).value, "written by b");
  });
});

Deno.test("the same node retakes its own lease at once, and a released lease is free", async () => {
  await withKv(async (kv) => {
    const first = await acquireLease(kv, key, { owner: "a", ttlMs: 60_000 });
    const again = await acquireLease(kv, key, { owner: "a", ttlMs: 60_000 });
    assert.ok(first.ok && again.ok);
    assert.notEqual(first.token, again.token, "retaking issues a new fencing token");
    assert.equal(await releaseLease(kv, key, first.token), false, "an old token cannot release");
    assert.equal(await releaseLease(kv, key, again.token), true);
    assert.equal((await acquireLease(kv, key, { owner: "b", ttlMs: 60_000 })).ok, true);
  });
});

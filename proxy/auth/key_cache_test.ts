import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { withKvPath } from "../../actors/runtime/testdata/temp_kv.ts";
import { KeyStore } from "./api_keys.ts";
import { KeyCache } from "./key_cache.ts";

Deno.test("a key revoked through another handle on the KV file is seen after the next refresh", async () => {
  await withKvPath("turnpike-key-cache-", async (path) => {
    const mine = await Deno.openKv(path);
    const theirs = await Deno.openKv(path);
    const cache = new KeyCache(new KeyStore(mine), { refreshMs: 60_000 });
    try {
      const other = new KeyStore(theirs);
      const { record } = await other.create({ name: "x", clientId: "c" });
      await cache.start();
      assertEquals(cache.cached(record.id)?.revoked_at, null);
      assertEquals(cache.activeCount(), 1);
      await other.revoke(record.id);
      assertEquals(cache.cached(record.id)?.revoked_at, null);
      await cache.refresh();
      assert(cache.cached(record.id)?.revoked_at);
      assertEquals(cache.activeCount(), 0);
    } finally {
      await cache.close();
      mine.close();
      theirs.close();
    }
  });
});

Deno.test("the periodic refresh picks a revocation up within refreshMs", async () => {
  await withKvPath("turnpike-key-cache-", async (path) => {
    const mine = await Deno.openKv(path);
    const theirs = await Deno.openKv(path);
    const cache = new KeyCache(new KeyStore(mine), { refreshMs: 20 });
    try {
      const other = new KeyStore(theirs);
      const { record } = await other.create({ name: "x", clientId: "c" });
      await cache.start();
      await other.revoke(record.id);
      const deadline = Date.now() + 30_000;
      while (!cache.cached(record.id)?.revoked_at && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert(cache.cached(record.id)?.revoked_at, "the revocation was never seen");
    } finally {
      await cache.close();
      mine.close();
      theirs.close();
    }
  });
});

Deno.test("lookup() reads a key made since the last load, and remembers an absent id until the next reload", async () => {
  await withKvPath("turnpike-key-cache-", async (path) => {
    const mine = await Deno.openKv(path);
    const theirs = await Deno.openKv(path);
    const cache = new KeyCache(new KeyStore(mine), { refreshMs: 60_000 });
    try {
      await cache.start();
      const other = new KeyStore(theirs);
      const { record } = await other.create({ name: "x", clientId: "c" });
      assertEquals(cache.cached(record.id), undefined);
      assertEquals((await cache.lookup(record.id))?.id, record.id);
      assertEquals(cache.cached(record.id)?.id, record.id);
      assertEquals(await cache.lookup("0123456789abcdef"), undefined);
      assertEquals(cache.cached("0123456789abcdef"), null);
      await other.create({ name: "y", clientId: "c" });
      await cache.refresh();
      assertEquals(cache.cached("0123456789abcdef"), undefined);
    } finally {
      await cache.close();
      mine.close();
      theirs.close();
    }
  });
});

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { withOpenKv } from "../../actors/runtime/testdata/temp_kv.ts";
import { KEYS_PREFIX, KeyStore, keyView, parseKey, verifySecret } from "./api_keys.ts";

Deno.test("create() returns tp-<id>-<secret> once and KV keeps a salted hash, never the secret", async () => {
  await withOpenKv("turnpike-keys-", async (kv) => {
    const store = new KeyStore(kv);
    const { key, record } = await store.create({
      name: "ci",
      clientId: "team-a",
      models: ["m1"],
      priority: "high",
      priorityHeader: true,
      limits: { requests_per_minute: 10 },
    });
    const parsed = parseKey(key);
    assert(parsed);
    assertEquals(parsed.id, record.id);
    assertEquals(Buffer.from(parsed.secret, "base64url").length, 32);
    const stored = await kv.get([...KEYS_PREFIX, record.id]);
    const text = JSON.stringify(stored.value);
    assert(!text.includes(parsed.secret), "the secret is in KV");
    assertEquals((stored.value as typeof record).hash.algorithm, "sha256");
    assert(verifySecret(record, parsed.secret));
    assert(!verifySecret(record, parsed.secret.slice(1)));
    assert(!verifySecret(record, `${parsed.secret}x`));
    assertEquals(keyView(record), {
      id: record.id,
      name: "ci",
      client_id: "team-a",
      models: ["m1"],
      priority: "high",
      priority_header: true,
      limits: { requests_per_minute: 10, tokens_per_minute: null, max_concurrent: null },
      created_at: record.created_at,
      revoked_at: null,
    });
  });
});

Deno.test("two keys made alike have different secrets, salts and hashes", async () => {
  await withOpenKv("turnpike-keys-", async (kv) => {
    const store = new KeyStore(kv);
    const a = await store.create({ name: "x", clientId: "c" });
    const b = await store.create({ name: "x", clientId: "c" });
    assert(a.key !== b.key);
    assert(a.record.hash.salt !== b.record.hash.salt);
    assert(a.record.hash.digest !== b.record.hash.digest);
    assertEquals((await store.list()).length, 2);
  });
});

Deno.test("revoke() stamps revoked_at once, bumps the version, and knows no unknown id", async () => {
  await withOpenKv("turnpike-keys-", async (kv) => {
    let clock = 1_000_000;
    const store = new KeyStore(kv, { now: () => clock });
    const { record } = await store.create({ name: "x", clientId: "c" });
    const before = await store.version();
    clock += 5000;
    const revoked = await store.revoke(record.id);
    assertEquals(revoked?.revoked_at, new Date(clock).toISOString());
    assert((await store.version()) !== before);
    clock += 5000;
    assertEquals((await store.revoke(record.id))?.revoked_at, revoked?.revoked_at);
    assertEquals(await store.revoke("0123456789abcdef"), undefined);
    assertEquals((await store.get(record.id))?.revoked_at, revoked?.revoked_at);
  });
});

Deno.test("parseKey() takes only tp-<16 hex>-<secret>; the secret may hold dashes", () => {
  assertEquals(parseKey("tp-0123456789abcdef-ab-c_d"), {
    id: "0123456789abcdef",
    secret: "ab-c_d",
  });
  for (
    const bad of ["", "sk-abc", "tp-", "tp-0123456789abcdef", "tp-0123456789abcdef-", "tp-XYZ-abc"]
  ) {
    assertEquals(parseKey(bad), undefined, bad);
  }
});

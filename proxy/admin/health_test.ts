import {
  deepStrictEqual as assertEquals,
  notDeepStrictEqual,
  ok as assert,
} from "node:assert/strict";
import { ConfigSchema } from "../../config/mod.ts";
import { boundedTree, configDigest, healthStatus, probeKv } from "./health.ts";

const fine = { healthy: true, circuit: "closed" };

Deno.test("healthStatus() is healthy when every model has an eligible backend and all are well", () => {
  assertEquals(
    healthStatus({
      models: [{ name: "m", backends: 2, eligible: 2 }],
      backends: [fine, fine],
      kv: { reachable: true },
    }),
    "healthy",
  );
});

Deno.test("healthStatus() is unhealthy when the KV store fails its probe, or no model can be served", () => {
  assertEquals(
    healthStatus({
      models: [{ name: "m", backends: 1, eligible: 1 }],
      backends: [fine],
      kv: { reachable: false },
    }),
    "unhealthy",
  );
  assertEquals(
    healthStatus({
      models: [{ name: "a", backends: 1, eligible: 0 }, { name: "b", backends: 0, eligible: 0 }],
      backends: [{ healthy: false, circuit: "open" }],
      kv: { reachable: true },
    }),
    "unhealthy",
  );
});

Deno.test("healthStatus() is degraded when one model has no eligible backend, a backend is down or a circuit is not closed, or no model is known", () => {
  const kv = { reachable: true };
  assertEquals(
    healthStatus({
      models: [{ name: "a", backends: 1, eligible: 1 }, { name: "b", backends: 1, eligible: 0 }],
      backends: [fine, { healthy: false, circuit: "closed" }],
      kv,
    }),
    "degraded",
  );
  assertEquals(
    healthStatus({
      models: [{ name: "a", backends: 2, eligible: 1 }],
      backends: [fine, { healthy: true, circuit: "half_open" }],
      kv,
    }),
    "degraded",
  );
  assertEquals(healthStatus({ models: [], backends: [], kv }), "degraded");
});

Deno.test("configDigest() is the same for equal configs, changes with a setting, and never depends on the admin key", async () => {
  const base = { models: [{ name: "m", endpoints: ["http://127.0.0.1:9"] }] };
  const a = await configDigest(ConfigSchema.parse(base));
  const b = await configDigest(ConfigSchema.parse(structuredClone(base)));
  assertEquals(a, b);
  assert(/^[0-9a-f]{64}$/.test(a));
  const other = await configDigest(ConfigSchema.parse({ ...base, proxy: { port: 5801 } }));
  notDeepStrictEqual(a, other);
  const key1 = await configDigest(
    ConfigSchema.parse({ ...base, auth: { admin_key: "first-admin-key-0123456789" } }),
  );
  const key2 = await configDigest(
    ConfigSchema.parse({ ...base, auth: { admin_key: "other-admin-key-0123456789" } }),
  );
  assertEquals(key1, key2);
});

Deno.test("probeKv() writes and reads back on a real KV file, and reports a closed store as unreachable", async () => {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-health-" });
  try {
    const kv = await Deno.openKv(`${dir}/probe.kv`);
    const ok = await probeKv(kv, "node-1");
    assertEquals(ok.reachable, true);
    assert(ok.latency_ms !== null && ok.latency_ms >= 0);
    assertEquals(ok.error, null);
    kv.close();
    const closed = await probeKv(kv, "node-1");
    assertEquals(closed.reachable, false);
    assertEquals(closed.latency_ms, null);
    assert(closed.error);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("boundedTree() keeps at most cap actors per level, those that restarted first, and counts the rest", () => {
  const leaf = (address: string, restarts = 0) => ({
    address,
    restart: "permanent" as const,
    restarts,
    children: [],
  });
  const nodes = [
    leaf("session/a"),
    leaf("session/b"),
    { ...leaf("router/m"), children: [leaf("backend/x", 2)] },
    leaf("session/c", 1),
    leaf("session/d"),
  ];
  const tree = boundedTree(nodes, 3);
  assertEquals(tree.actors.map((a) => a.address), ["session/a", "router/m", "session/c"]);
  assertEquals(tree.omitted, 2);
  assertEquals(tree.omitted_restarts, 0);
  assertEquals(tree.actors[1]!.children.actors.map((a) => a.restarts), [2]);
  const one = boundedTree(nodes, 1);
  assertEquals(one.actors.map((a) => a.address), ["router/m"]);
  assertEquals(one.omitted_restarts, 1);
});

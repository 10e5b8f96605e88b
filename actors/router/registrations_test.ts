import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { ProxySchema } from "../../config/mod.ts";
import { startSimulator } from "../../sim/mod.ts";
import { ActorSystem } from "../runtime/mod.ts";
import { withKvPath } from "../runtime/testdata/temp_kv.ts";
import { Fleet } from "./fleet.ts";
import { Registrations } from "./registrations.ts";

const MODEL = "llama-3.1-8b-sim";

/** One gateway process's share of the test: its own KV handle, actor system, fleet and registrations. */
interface Node {
  fleet: Fleet;
  registrations: Registrations;
  close(): Promise<void>;
}

async function node(path: string, id: string, now: () => number): Promise<Node> {
  const kv = await Deno.openKv(path);
  const system = await ActorSystem.start();
  const fleet = new Fleet(system, ProxySchema.parse({ health_check_interval: 60 }), { now });
  // A sync interval longer than any test: each test syncs when it means to.
  const registrations = new Registrations(kv, fleet, { nodeId: id, syncMs: 600_000, now });
  await registrations.start();
  return {
    fleet,
    registrations,
    async close() {
      await registrations.close();
      await fleet.close();
      await system.shutdown();
      kv.close();
    },
  };
}

function routed(fleet: Fleet): string[] {
  return fleet.backends().map((b) => `${b.model}/${b.id}@${b.url}`);
}

async function withNodes(
  fn: (
    nodes: { a: Node; b: Node; path: string; url: string; clock: { ms: number } },
  ) => Promise<void>,
): Promise<void> {
  const sim = await startSimulator({ port: 0, timeScale: 20, tokenizer: "approx", model: MODEL });
  try {
    await withKvPath("turnpike-registrations-", async (path) => {
      const clock = { ms: 1_000_000 };
      const now = () => clock.ms;
      const a = await node(path, "node-a", now);
      const b = await node(path, "node-b", now);
      try {
        await fn({ a, b, path, url: sim.url, clock });
      } finally {
        await a.close();
        await b.close();
      }
    });
  } finally {
    await sim.close();
  }
}

Deno.test("a registration through one process is routed by another after its sync, and so is its removal", async () => {
  await withNodes(async ({ a, b, url }) => {
    const result = await a.registrations.register(MODEL, { id: "r1", url, ttlMs: 30_000 });
    assertEquals([result.created, result.expiresAtMs], [true, 1_000_000 + 30_000]);
    assertEquals(routed(a.fleet), [`${MODEL}/r1@${url}`]);
    assertEquals(routed(b.fleet), [], "b has not read KV yet");
    await b.registrations.sync();
    assertEquals(routed(b.fleet), [`${MODEL}/r1@${url}`]);
    assertEquals(b.registrations.of("r1", MODEL)?.node, "node-a");
    assert(b.fleet.router(MODEL) !== undefined);

    const again = await b.registrations.register(MODEL, {
      id: "r1",
      url: `${url}/`,
      ttlMs: 30_000,
    });
    assertEquals(again.created, false, "the same URL registered through b is a heartbeat");

    assertEquals(await a.registrations.deregister("r1"), true);
    assertEquals(routed(a.fleet), []);
    await b.registrations.sync();
    assertEquals(routed(b.fleet), []);
    assertEquals(b.fleet.router(MODEL), undefined, "a model only registrations made is gone");
    assertEquals(await b.registrations.deregister("r1"), false);
  });
});

Deno.test("a heartbeat through another process keeps a registration, and a lapsed one leaves every process", async () => {
  await withNodes(async ({ a, b, url, clock }) => {
    await a.registrations.register(MODEL, { id: "r1", url, ttlMs: 1_000 });
    await b.registrations.sync();
    clock.ms += 800;
    const beat = await b.registrations.heartbeat("r1");
    assertEquals(beat?.expiresAtMs, 1_000_000 + 1_800);
    clock.ms += 700;
    await a.registrations.sync();
    assertEquals(routed(a.fleet).length, 1, "b's heartbeat reached a through KV");
    assertEquals(a.fleet.backends()[0]?.expiresAtMs, 1_000_000 + 2_500, "and refreshed a's TTL");
    clock.ms += 1_100;
    await a.registrations.sync();
    await b.registrations.sync();
    assertEquals([routed(a.fleet), routed(b.fleet)], [[], []]);
    assertEquals(await a.registrations.heartbeat("r1"), undefined);
  });
});

Deno.test("a new process routes at start to the registrations already in KV", async () => {
  await withNodes(async ({ a, path, url }) => {
    await a.registrations.register(MODEL, { id: "r1", url, ttlMs: 30_000 });
    await a.registrations.register("alias", { id: "r1", url, ttlMs: 30_000 });
    const c = await node(path, "node-c", () => 1_000_000);
    try {
      assertEquals(routed(c.fleet).sort(), [`${MODEL}/r1@${url}`, `alias/r1@${url}`].sort());
      assertEquals(await c.registrations.deregister("r1"), true, "both models' registrations go");
      await a.registrations.sync();
      assertEquals(routed(a.fleet), []);
    } finally {
      await c.close();
    }
  });
});

Deno.test("a heartbeat names a configured backend as known with no expiry, and an unknown one as absent", async () => {
  await withNodes(async ({ a, url }) => {
    await a.fleet.addBackend(MODEL, { id: "fixed", url, source: "static" });
    assertEquals(await a.registrations.heartbeat("fixed"), {
      id: "fixed",
      created: false,
      expiresAtMs: undefined,
    });
    assertEquals(await a.registrations.heartbeat("nobody"), undefined);
    await a.registrations.sync();
    assertEquals(routed(a.fleet), [`${MODEL}/fixed@${url}`], "a sync leaves static backends alone");
  });
});

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { SharedRouting, specKey } from "./shared_routing.ts";

async function withKv(test: (kv: Deno.Kv) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-shared-routing-" });
  const kv = await Deno.openKv(`${dir}/kv.sqlite3`);
  try {
    await test(kv);
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const entry = { strategy: "least_load" as const, canary: null, history: [] };

Deno.test("SharedRouting gives another process's writes once, never its own, and skips a writer on another proxy.strategy", () =>
  withKv(async (kv) => {
    const a = new SharedRouting(kv, "round_robin");
    const b = new SharedRouting(kv, "round_robin");
    const foreign = new SharedRouting(kv, "prefix_aware");
    await a.write("m", entry);
    await a.write(undefined, { ...entry, strategy: "least_connections" });
    assertEquals((await a.changes()).models.size, 0);
    const seen = await b.changes();
    assertEquals([...seen.models.keys()], ["m"]);
    assertEquals(seen.models.get("m")?.strategy, "least_load");
    assertEquals(seen.default?.strategy, "least_connections");
    assertEquals((await b.changes()).models.size, 0);
    const other = await foreign.changes();
    assertEquals([other.models.size, other.default], [0, undefined]);
  }));

Deno.test("specKey() tells weights apart, whatever their order", () => {
  assertEquals(
    specKey({ least_load: 1, prefix_aware: 2 }),
    specKey({ prefix_aware: 2, least_load: 1 }),
  );
  assertEquals(
    specKey({ least_load: 1, prefix_aware: 2 }) === specKey({ least_load: 2, prefix_aware: 1 }),
    false,
  );
  assertEquals(specKey("least_load"), "least_load");
});

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { ProxySchema } from "../../config/mod.ts";
import { ActorSystem } from "../runtime/mod.ts";
import { Fleet } from "./fleet.ts";

Deno.test("a replica registered under two model names is kept alive and removed in both", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response(null, { status: 200 }),
  );
  const system = await ActorSystem.start();
  const fleet = new Fleet(system, ProxySchema.parse({ health_check_interval: 60 }));
  try {
    const url = `http://127.0.0.1:${server.addr.port}`;
    for (const model of ["alias-a", "alias-b"]) {
      await fleet.addBackend(model, { id: "r1", url, source: "registered", ttlMs: 300 });
    }
    // Heartbeats for 0.9 s, three TTLs: each must reach both models.
    for (let i = 0; i < 9; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      assertEquals((await fleet.heartbeat("r1"))?.id, "r1");
    }
    const listed = () => fleet.backends().map((b) => b.model).sort();
    assertEquals(listed(), ["alias-a", "alias-b"]);
    assertEquals(await fleet.removeBackend("r1"), true);
    assertEquals(listed(), []);
  } finally {
    await fleet.close();
    await system.shutdown();
    await server.shutdown();
  }
});

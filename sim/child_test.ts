import { assertEquals } from "./_assert.ts";
import { spawnSim } from "./child.ts";

Deno.test("spawnSim() runs the sim command, which serves every replica until SIGTERM", async () => {
  const sim = await spawnSim(["--base-port", "0", "--tokenizer", "approx"], { replicas: 2 });
  try {
    assertEquals(sim.urls.length, 2);
    for (const url of sim.urls) {
      const r = await fetch(`${url}/health`);
      await r.body?.cancel();
      assertEquals(r.status, 200);
    }
  } finally {
    assertEquals(await sim.stop(), 0);
  }
});

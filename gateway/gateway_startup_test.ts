import { ok as assert, rejects } from "node:assert/strict";
import { ConfigSchema } from "../config/mod.ts";
import { startSimulator } from "../sim/mod.ts";
import { startGateway } from "./gateway.ts";
import { MODEL } from "./testing.ts";

// The resource and op sanitizers (off by default in this Deno) fail the test if the failed start
// leaves a KV handle, a timer, a listener or a pending op behind.
Deno.test({
  name: "a gateway that cannot start closes all it opened (here: its port is taken)",
  sanitizeResources: true,
  sanitizeOps: true,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-startup-test-" });
  const sim = await startSimulator({ port: 0, timeScale: 20, tokenizer: "approx" });
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const config = ConfigSchema.parse({
      proxy: { health_check_interval: 30, metrics_scrape_interval: 0.2, share_placements: true },
      models: [{ name: MODEL, endpoints: [sim.url] }],
      headers: {},
      logging: { access_log: false },
      state_dir: dir,
    });
    const port = (taken.addr as Deno.NetAddr).port;
    await rejects(
      startGateway(config, { port, hostname: "127.0.0.1" }),
      (error: Error) => {
        assert(error instanceof Deno.errors.AddrInUse, String(error));
        return true;
      },
    );
    // The KV file is free again: a gateway on another port starts on it and closes cleanly.
    const gateway = await startGateway(config, { port: 0, hostname: "127.0.0.1" });
    await gateway.close({ deadlineMs: 2_000 });
  } finally {
    taken.close();
    await sim.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "a gateway that cannot start stops the replicas it launched",
  sanitizeResources: true,
  sanitizeOps: true,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-startup-test-" });
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const pids = `${dir}/pids`;
  try {
    const config = ConfigSchema.parse({
      cluster: { type: "local" },
      models: [{
        name: "m",
        replicas: 1,
        // Stands in for a replica that never becomes healthy: it only records its pid.
        command: `sh -c 'echo $$ >> ${pids}; exec sleep 600' {port}`,
        startup_timeout: 60,
      }],
      logging: { access_log: false },
      state_dir: dir,
    });
    const port = (taken.addr as Deno.NetAddr).port;
    await rejects(startGateway(config, { port, hostname: "127.0.0.1", replicaPorts: { m: [0] } }));
    // A replica stopped before its shell ran wrote no pid; one left running writes it at once.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const written = await Deno.readTextFile(pids).catch(() => "");
    for (const pid of written.split("\n").filter(Boolean).map(Number)) {
      let alive = true;
      try {
        Deno.kill(pid, "SIGCONT");
      } catch {
        alive = false;
      }
      assert(!alive, `the launched replica (pid ${pid}) still runs`);
    }
  } finally {
    taken.close();
    await Deno.remove(dir, { recursive: true });
  }
});

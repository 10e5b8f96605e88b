/** Launched replicas (`cluster.type: local`): supervised child processes that are restarted when they die. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import OpenAI from "openai";
import { ConfigSchema } from "../config/mod.ts";
import { startGateway } from "../gateway/mod.ts";
import type { ReplicaStatus } from "../cluster/mod.ts";
import { waitFor } from "../gateway/testing.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

Deno.test("a launched replica that dies is restarted and routed to again", async () => {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-launch-test-" });
  const config = ConfigSchema.parse({
    proxy: { health_check_interval: 0.2, circuit_open_seconds: 0.2 },
    cluster: { type: "local" },
    models: [{
      name: "m",
      replicas: 1,
      command: `deno run -A ${MAIN} sim --port {port} --model {name}`,
      startup_timeout: 60,
    }],
    state_dir: dir,
  });
  const gateway = await startGateway(config, { port: 0, replicaPorts: { m: [0] } });
  try {
    const replica = gateway.system.ref<{ type: "status" }>("replica/m/0");
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "x", maxRetries: 0 });
    await waitFor(
      "the replica to become healthy",
      () => (gateway.fleet.router("m")?.eligibleCount ?? 0) === 1,
      { timeoutMs: 60_000 },
    );
    await client.chat.completions.create({
      model: "m",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 2,
    });
    const before = await replica.ask<ReplicaStatus>({ type: "status" });
    assert(before.pid !== undefined && before.running);
    Deno.kill(-before.pid, "SIGKILL");
    await waitFor("the replica to be restarted", async () => {
      const now = await replica.ask<ReplicaStatus>({ type: "status" }).catch(() => undefined);
      return now !== undefined && now.running && now.pid !== before.pid;
    }, { timeoutMs: 60_000 });
    await waitFor(
      "the restarted replica to be healthy",
      () => (gateway.fleet.router("m")?.eligibleCount ?? 0) === 1,
      { timeoutMs: 30_000 },
    );
    const after = await replica.ask<ReplicaStatus>({ type: "status" });
    assertEquals([after.starts, after.url], [2, before.url]);
    const answer = await client.chat.completions.create({
      model: "m",
      messages: [{ role: "user", content: "again" }],
      max_tokens: 2,
    });
    assertEquals(answer.choices.length, 1);
  } finally {
    await gateway.close({ deadlineMs: 2_000 });
    await Deno.remove(dir, { recursive: true });
  }
});

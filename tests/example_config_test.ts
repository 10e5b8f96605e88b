import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../config/mod.ts";
import { launchReplica } from "../cluster/mod.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

Deno.test("config/example.yaml's launched model starts as a real simulator replica", async () => {
  const config = await loadConfig(`${root}config/example.yaml`, { env: {} });
  const model = config.models.find((m) => m.endpoints === undefined);
  assert.ok(model, "the example has a launched model");
  const replica = await launchReplica(model, {
    port: 0,
    cwd: root,
    pollIntervalMs: 100,
    startupTimeoutMs: 120_000,
  });
  try {
    const response = await fetch(`${replica.url}/v1/models`);
    const body = await response.json();
    assert.equal(body.data[0].id, model.name);
  } finally {
    await replica.stop({ graceMs: 10_000 });
  }
});

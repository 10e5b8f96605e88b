import assert from "node:assert/strict";
import { ConfigSchema } from "../../config/mod.ts";
import { startGateway } from "../../gateway/gateway.ts";
import { waitFor } from "../../gateway/testing.ts";
import type { JobStatusRow } from "./types.ts";
import { assignGpus } from "./local_jobs.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

Deno.test("assignGpus() hands out tensor_parallel_size GPUs per replica in the order listed", () => {
  const gpus = assignGpus([
    { name: "a", replicas: 2, tensor_parallel_size: 1, endpoints: undefined },
    { name: "s", replicas: 1, tensor_parallel_size: 1, endpoints: ["http://x:1"] },
    { name: "b", replicas: 1, tensor_parallel_size: 2, endpoints: undefined },
  ], [3, 2, 1, 0]);
  assert.deepStrictEqual(Object.fromEntries(gpus ?? []), { "a/0": "3", "a/1": "2", "b/0": "1,0" });
  assert.equal(
    assignGpus([{ name: "a", replicas: 1, tensor_parallel_size: 1 }], undefined),
    undefined,
  );
});

async function jobs(url: string): Promise<JobStatusRow[]> {
  const response = await fetch(`${url}/api/jobs`);
  assert.equal(response.status, 200);
  return (await response.json() as { jobs: JobStatusRow[] }).jobs;
}

async function post(url: string, path: string, body: unknown): Promise<Response> {
  return await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

Deno.test("cluster.type local shows its replicas as job rows with their GPUs, and /api/jobs scales and stops them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-local-jobs-test-" });
  const config = ConfigSchema.parse({
    proxy: { health_check_interval: 0.2 },
    cluster: { type: "local", gpus: [1, 0] },
    models: [{
      name: "m",
      replicas: 2,
      command: `deno run -A ${MAIN} sim --port {port} --model {name}`,
      startup_timeout: 60,
    }],
    state_dir: dir,
  });
  let gateway = await startGateway(config, { port: 0, replicaPorts: { m: [0, 0] } });
  try {
    await waitFor(
      "both replicas to be healthy",
      () => (gateway.fleet.router("m")?.eligibleCount ?? 0) === 2,
      { timeoutMs: 90_000 },
    );
    let rows = await jobs(gateway.url);
    assert.deepStrictEqual(rows.map((r) => [r.model, r.replica, r.kind, r.phase, r.health]), [
      ["m", 0, "local", "healthy", "healthy"],
      ["m", 1, "local", "healthy", "healthy"],
    ]);
    // Each process got its own GPU as CUDA_VISIBLE_DEVICES.
    const devices = await Promise.all(rows.map(async (r) => {
      const environ = await Deno.readTextFile(`/proc/${r.jobId}/environ`);
      return environ.split("\0").find((e) => e.startsWith("CUDA_VISIBLE_DEVICES="));
    }));
    assert.deepStrictEqual(devices, ["CUDA_VISIBLE_DEVICES=1", "CUDA_VISIBLE_DEVICES=0"]);
    assert.ok(rows.every((r) => r.endpoint?.startsWith("http://127.0.0.1:")));

    const health = await (await fetch(`${gateway.url}/health/detailed`)).json();
    assert.equal(health.jobs.length, 2);
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    assert.match(metrics, /turnpike_jobs\{state="healthy"\} 2/);

    const bad = await post(gateway.url, "/api/jobs/scale", { model: "nope", replicas: 1 });
    assert.equal(bad.status, 404);
    assert.equal((await bad.json()).error.code, "model_not_found");
    const negative = await post(gateway.url, "/api/jobs/scale", { model: "m", replicas: -1 });
    assert.equal(negative.status, 400);
    assert.equal((await negative.json()).error.param, "replicas");

    const scaled = await post(gateway.url, "/api/jobs/scale", { model: "m", replicas: 1 });
    assert.equal(scaled.status, 200);
    rows = (await scaled.json()).jobs;
    assert.deepStrictEqual(rows.map((r) => [r.replica, r.phase]), [[0, "healthy"], [
      1,
      "cancelled",
    ]]);
    assert.equal(gateway.fleet.router("m")?.list().length, 1);

    // The scale is kept in KV: a restarted gateway launches one replica, not the configured two.
    await gateway.close({ deadlineMs: 2_000 });
    gateway = await startGateway(config, { port: 0, replicaPorts: { m: [0, 0] } });
    await waitFor(
      "the scaled replica to be healthy after the restart",
      () => (gateway.fleet.router("m")?.eligibleCount ?? 0) === 1,
      { timeoutMs: 90_000 },
    );
    rows = await jobs(gateway.url);
    assert.deepStrictEqual(rows.map((r) => [r.replica, r.phase]), [[0, "healthy"]]);

    const stopped = await post(gateway.url, "/api/jobs/stop", {});
    rows = (await stopped.json()).jobs;
    assert.deepStrictEqual(rows.map((r) => r.phase), ["cancelled"]);
    assert.equal(gateway.fleet.router("m")?.list().length, 0);

    // A stopped model stays stopped across a restart, until start.
    await gateway.close({ deadlineMs: 2_000 });
    gateway = await startGateway(config, { port: 0, replicaPorts: { m: [0, 0] } });
    assert.deepStrictEqual(await jobs(gateway.url), []);

    const started = await post(gateway.url, "/api/jobs/start", {});
    assert.equal(started.status, 200);
    await waitFor(
      "both replicas to be healthy again",
      () => (gateway.fleet.router("m")?.eligibleCount ?? 0) === 2,
      { timeoutMs: 90_000 },
    );
    rows = await jobs(gateway.url);
    assert.deepStrictEqual(rows.map((r) => r.phase), ["healthy", "healthy"]);
  } finally {
    await gateway.close({ deadlineMs: 2_000 });
    await Deno.remove(dir, { recursive: true });
  }
});

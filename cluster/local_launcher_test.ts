import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { ModelSchema } from "../config/mod.ts";
import { launchReplica, replicaArgv, ReplicaStartError } from "./local_launcher.ts";
import { freePort } from "./ports.ts";
import { waitFor } from "../actors/runtime/testdata/wait.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const fixture = "deno run -A tests/fixtures/health_server.ts --port {port} --name {name}";

function fixtureModel(extra: string, fields: Record<string, unknown> = {}) {
  return ModelSchema.parse({ name: "fixture", command: `${fixture} ${extra}`, ...fields });
}

/** True while `pid` is a live process (a zombie awaiting its reaper counts as gone). */
function isRunning(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

/** Waits until `pid` is gone: a killed process's reaping is not instantaneous. */
function waitGone(pid: number): Promise<boolean> {
  return waitFor(`process ${pid} to be gone`, () => !isRunning(pid), { everyMs: 50 });
}

Deno.test("replicaArgv() fills the default vllm template and keeps a spaced value as one argument", () => {
  const model = ModelSchema.parse({
    name: "my model",
    model_path: "/models/Llama 3.1 8B",
    gpu_memory_utilization: 0.85,
    tensor_parallel_size: 2,
    max_model_len: 32768,
  });
  assert.deepEqual(replicaArgv(model, 5901), [
    "vllm",
    "serve",
    "/models/Llama 3.1 8B",
    "--port",
    "5901",
    "--served-model-name",
    "my model",
    "--gpu-memory-utilization",
    "0.85",
    "--tensor-parallel-size",
    "2",
    "--max-model-len",
    "32768",
  ]);
});

Deno.test("replicaArgv() replaces a leading deno with this Deno's executable", () => {
  const model = ModelSchema.parse({
    name: "sim",
    command: "deno run -A main.ts sim --port {port}",
  });
  assert.deepEqual(replicaArgv(model, 7000), [
    Deno.execPath(),
    "run",
    "-A",
    "main.ts",
    "sim",
    "--port",
    "7000",
  ]);
});

Deno.test("launchReplica() resolves once /health answers 200 and stop() ends the process", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const port = freePort();
    const model = fixtureModel("--startup-delay-ms 300", { name: "fixture one" });
    const replica = await launchReplica(model, {
      port,
      cwd: root,
      stateDir,
      pollIntervalMs: 50,
      startupTimeoutMs: 60_000,
    });
    assert.equal(replica.url, `http://127.0.0.1:${port}`);
    assert.equal(replica.argv[0], Deno.execPath());
    assert.ok(replica.pid > 0);
    const response = await fetch(`${replica.url}/name`);
    assert.equal(await response.text(), "fixture one");

    const code = await replica.stop({ graceMs: 10_000 });
    assert.equal(code, 128 + 15, "killed by SIGTERM");
    assert.equal(await replica.exited, code);
    assert.equal(await replica.stop(), code, "stop() is idempotent");
    assert.equal(await waitGone(replica.pid), true);

    assert.equal(replica.logPath, `${stateDir}/logs/fixture_one-${port}.log`);
    const log = await Deno.readTextFile(replica.logPath!);
    assert.match(log, /starting: /);
    assert.match(log, /fixture fixture one starting with args/);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("launchReplica() reports a process that exits before it is healthy, with its code and output", async () => {
  const error = await launchReplica(fixtureModel("--exit-code 3"), {
    port: freePort(),
    cwd: root,
    pollIntervalMs: 50,
    startupTimeoutMs: 60_000,
  }).then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof ReplicaStartError, String(error));
  assert.equal(error.reason, "exited");
  assert.equal(error.exitCode, 3);
  assert.match(error.message, /exited with code 3 before it became healthy/);
  assert.match(error.message, /failing on purpose/);
});

Deno.test("launchReplica() stops a replica that stays unhealthy past the startup timeout", async () => {
  const error = await launchReplica(fixtureModel("--unhealthy"), {
    port: freePort(),
    cwd: root,
    pollIntervalMs: 50,
    startupTimeoutMs: 3000,
  }).then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof ReplicaStartError, String(error));
  assert.equal(error.reason, "timeout");
  assert.match(error.message, /did not answer 200 on http:\/\/127\.0\.0\.1:\d+\/health within 3 s/);
  assert.ok(error.pid !== undefined && await waitGone(error.pid), "the process was stopped");
});

Deno.test("stop() ends the replica's whole process group, workers included", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const replica = await launchReplica(fixtureModel("--spawn-child"), {
      port: freePort(),
      cwd: root,
      stateDir,
      pollIntervalMs: 50,
      startupTimeoutMs: 60_000,
    });
    const workerPid = await waitFor("the worker's pid in the log", async () => {
      const log = await Deno.readTextFile(replica.logPath!);
      return Number(/fixture worker pid (\d+)/.exec(log)?.[1] ?? 0) || undefined;
    }, { everyMs: 50 });
    assert.ok(workerPid > 0 && isRunning(workerPid), "the worker runs beside the replica");
    await replica.stop({ graceMs: 10_000 });
    assert.equal(await waitGone(workerPid), true, "the worker was stopped with the replica");
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("stop() sends SIGKILL when the replica ignores SIGTERM for the whole grace", async () => {
  const replica = await launchReplica(fixtureModel("--ignore-sigterm"), {
    port: freePort(),
    cwd: root,
    pollIntervalMs: 50,
    startupTimeoutMs: 60_000,
  });
  assert.equal(await replica.stop({ graceMs: 1000 }), 128 + 9, "killed by SIGKILL");
});

Deno.test("launchReplica() stops the process when its start is aborted", async () => {
  const controller = new AbortController();
  const started = launchReplica(fixtureModel("--unhealthy"), {
    port: freePort(),
    cwd: root,
    pollIntervalMs: 50,
    startupTimeoutMs: 60_000,
    signal: controller.signal,
  });
  const timer = setTimeout(() => controller.abort(), 500);
  const error = await started.then(() => undefined, (e: unknown) => e);
  clearTimeout(timer);
  assert.ok(error instanceof ReplicaStartError, String(error));
  assert.equal(error.reason, "aborted");
  assert.ok(error.pid !== undefined && await waitGone(error.pid));
});

Deno.test("launchReplica() says which program is missing when it cannot be started", async () => {
  const model = ModelSchema.parse({ name: "x", command: "turnpike-no-such-program --port {port}" });
  const error = await launchReplica(model, { port: freePort() }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(error instanceof ReplicaStartError, String(error));
  assert.equal(error.reason, "spawn");
  assert.match(error.message, /program "turnpike-no-such-program" was not found/);
});

Deno.test("launchReplica() refuses a model with static endpoints", async () => {
  const model = ModelSchema.parse({ name: "x", endpoints: ["http://127.0.0.1:1"] });
  await assert.rejects(launchReplica(model), /lists endpoints, so it is not launched/);
});

Deno.test("launchReplica() on port 0 starts again on another port when its pick is taken before it binds", async () => {
  // The race a pick-then-bind has: another listener takes the picked port first.
  const squatter = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const taken = (squatter.addr as Deno.NetAddr).port;
  const picks: number[] = [];
  try {
    const replica = await launchReplica(fixtureModel(""), {
      port: 0,
      pickPort: () => {
        picks.push(picks.length === 0 ? taken : freePort());
        return picks.at(-1)!;
      },
      cwd: root,
      pollIntervalMs: 50,
      startupTimeoutMs: 60_000,
    });
    try {
      assert.equal(picks.length, 2, "a second port was picked after the first was in use");
      assert.equal(replica.port, picks[1]);
      assert.equal(replica.url, `http://127.0.0.1:${picks[1]}`);
      assert.equal((await fetch(`${replica.url}/name`)).status, 200);
    } finally {
      await replica.stop({ graceMs: 5_000 });
    }
  } finally {
    squatter.close();
  }
});

Deno.test("launchReplica() on a configured port that is taken fails without trying another", async () => {
  const squatter = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (squatter.addr as Deno.NetAddr).port;
    const error = await launchReplica(fixtureModel(""), {
      port,
      cwd: root,
      pollIntervalMs: 50,
      startupTimeoutMs: 60_000,
    }).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof ReplicaStartError, String(error));
    assert.equal(error.reason, "exited");
    assert.match(error.outputTail, /AddrInUse/);
  } finally {
    squatter.close();
  }
});

/**
 * The job actors on the real SLURM testbed, driven as users drive them: a gateway (`main.ts serve`
 * as a subprocess, or in-process) submits replicas that run the simulator, registers them once
 * healthy and answers through them with the openai client; a job cancelled from outside is
 * replaced; a gateway killed with -9 and restarted re-attaches without a duplicate job; `/api/jobs`
 * scales up and down and stops; a job that fails at start backs off and fails after max_attempts;
 * a partition refusing a bad QOS falls back to the next (over SSH); a job at its time limit is
 * replaced before it ends; autoscale grows and shrinks a model; a taken port moves a replica to the
 * next; a submit whose reply was lost is found by its job name; an unknown host key stops `serve`.
 * Every job a test submits is cancelled at its end, also on failure.
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import { ConfigSchema, kvPath } from "../../config/mod.ts";
import { plannedJob } from "../../actors/job/machine.ts";
import { JobStore } from "../../actors/job/store.ts";
import { renderSbatch } from "../../cluster/slurm/render.ts";
import { CliSlurm } from "../../cluster/slurm/cli.ts";
import { LocalShell } from "../../cluster/local_shell.ts";
import { startGateway } from "../../gateway/gateway.ts";
import { waitFor } from "../../gateway/testing.ts";
import { freePort } from "../../cluster/ports.ts";
import { type Testbed, testbedSsh } from "../../cluster/ssh/testing.ts";
import type { JobStatusRow } from "../../actors/job/types.ts";
import {
  cancelAll,
  freeBasePort,
  liveJobs,
  scancel,
  ServeProcess,
  simCommand,
  slurmConfig,
  type SlurmConfigOptions,
  tag,
  testbedOrSkip,
  writeConfig,
} from "./_testbed.ts";

async function rowsOf(url: string): Promise<JobStatusRow[]> {
  const response = await fetch(`${url}/api/jobs`);
  if (response.status !== 200) throw new Error(`GET /api/jobs answered ${response.status}`);
  return (await response.json() as { jobs: JobStatusRow[] }).jobs;
}

async function post(url: string, path: string, body: unknown): Promise<JobStatusRow[]> {
  const response = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = await response.json();
  assert.equal(response.status, 200, JSON.stringify(json));
  return json.jobs;
}

/** Waits until the gateway's router has `count` eligible backends of `model` (its own probe passed). */
async function routable(url: string, model: string, count: number): Promise<void> {
  await waitFor(`${count} routable replicas of ${model}`, async () => {
    const health = await (await fetch(`${url}/health`)).json() as {
      models: { name: string; healthy: number }[];
    };
    return health.models.find((m) => m.name === model)?.healthy === count;
  }, { timeoutMs: 30_000 });
}

function healthy(rows: JobStatusRow[]): JobStatusRow[] {
  return rows.filter((r) => r.phase === "healthy");
}

/** An openai client of the gateway at `url`. */
function clientOf(url: string): OpenAI {
  return new OpenAI({ baseURL: `${url}/v1`, apiKey: "x", maxRetries: 0 });
}

async function ask(client: OpenAI, model: string): Promise<string> {
  const answer = await client.chat.completions.create({
    model,
    messages: [{ role: "user", content: "Hello from a SLURM job" }],
    max_tokens: 4,
  });
  return answer.choices[0]?.message.content ?? "";
}

/** Waits until the gateway at `url` routes to one replica of `model`, then checks it answers. */
async function answers(url: string, model: string): Promise<void> {
  await routable(url, model, 1);
  assert.ok((await ask(clientOf(url), model)).length > 0);
}

/** What {@linkcode withModel} gives a test. */
interface ModelRun {
  bed: Testbed;
  /** A model name of this test alone (its jobs are named after it). */
  model: string;
  /** A temporary directory of the test's own. */
  dir: string;
  /** Where the model's jobs write (`job_dir`). */
  jobDir: string;
}

/**
 * Runs `run` on the testbed with a model name tagged from `prefix` and a temporary directory;
 * every job of the model is cancelled and the directory removed after, also on failure. Skips
 * (or fails under CI) without the testbed.
 */
async function withModel(prefix: string, run: (test: ModelRun) => Promise<void>): Promise<void> {
  const bed = testbedOrSkip(`the ${prefix} test`);
  if (!bed) return;
  const model = tag(prefix);
  const dir = await Deno.makeTempDir({ prefix: `turnpike-slurm-${prefix}-` });
  try {
    await run({ bed, model, dir, jobDir: `${bed.jobDir}/${model}` });
  } finally {
    await cancelAll(bed, model);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test({
  name:
    "a gateway submits simulator replicas, replaces one cancelled from outside, re-attaches after kill -9, scales and stops",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withModel("c1life", async ({ bed, model, dir, jobDir }) => {
      const port = freePort("127.0.0.1");
      const url = `http://127.0.0.1:${port}`;
      const configPath = await writeConfig(
        dir,
        slurmConfig({
          model,
          replicas: 1,
          basePort: freeBasePort(3),
          stateDir: `${dir}/state`,
          jobDir,
          modelExtra: { autoscale: { min: 1, max: 2, cooldown: 3600 } },
          proxy: { drain_timeout: 30 },
        }),
      );
      let serve = new ServeProcess(configPath, port);
      let passed = false;
      try {
        await waitFor(
          "the replica to be healthy",
          async () => healthy(await rowsOf(url).catch(() => [])).length === 1,
          { timeoutMs: 150_000 },
        );
        await answers(url, model);
        let rows = await rowsOf(url);
        assert.deepStrictEqual(rows.map((r) => [r.replica, r.kind, r.partition, r.node]), [
          [0, "slurm", "gpu_a", "localhost"],
        ]);
        assert.equal((await liveJobs(bed, model)).length, 1);

        // Cancelled from outside: the actors see it within a poll and resubmit after the backoff.
        const victim = rows[0]!;
        await scancel(bed, victim.jobId!);
        await waitFor("replica 0 to be replaced", async () => {
          const row = (await rowsOf(url)).find((r) => r.replica === 0);
          return row !== undefined && row.phase === "healthy" && row.jobId !== victim.jobId;
        }, { timeoutMs: 120_000 });
        const replaced = (await rowsOf(url)).find((r) => r.replica === 0)!;
        assert.equal(replaced.attempts, 2);
        assert.match(replaced.lastError ?? "", /CANCELLED/);
        await answers(url, model);

        // kill -9, then a new gateway on the same state: the same job, none submitted again.
        const before = (await liveJobs(bed, model)).map((j) => j.jobId);
        assert.deepStrictEqual(before, [replaced.jobId]);
        await serve.kill("SIGKILL");
        serve = new ServeProcess(configPath, port);
        await waitFor(
          "the restarted gateway to route to the replica again",
          async () => healthy(await rowsOf(url).catch(() => [])).length === 1,
          { timeoutMs: 120_000 },
        );
        rows = await rowsOf(url);
        assert.deepStrictEqual(rows.map((r) => r.jobId), before);
        assert.deepStrictEqual((await liveJobs(bed, model)).map((j) => j.jobId), before);
        await answers(url, model);

        // Scale up (within autoscale's bounds, which refuse more), then down again.
        const outOfBounds = await fetch(`${url}/api/jobs/scale`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ model, replicas: 3 }),
        });
        assert.equal(outOfBounds.status, 400);
        assert.match((await outOfBounds.json()).error.message, /autoscale bounds 1-2/);
        await post(url, "/api/jobs/scale", { model, replicas: 2 });
        await waitFor("two healthy replicas", async () => healthy(await rowsOf(url)).length === 2, {
          timeoutMs: 150_000,
        });
        await post(url, "/api/jobs/scale", { model, replicas: 1 });
        await waitFor(
          "one live job",
          async () =>
            (await liveJobs(bed, model)).length === 1 && healthy(await rowsOf(url)).length === 1,
          { timeoutMs: 60_000 },
        );
        await answers(url, model);

        // Stop drains: a stream under way when it is asked finishes before the job is cancelled.
        const stream = await clientOf(url).chat.completions.create({
          model,
          messages: [{ role: "user", content: "A long answer, please" }],
          // About 3 s of tokens from the simulator: still streaming when the stop comes.
          max_tokens: 600,
          stream: true,
        });
        const stopping = post(url, "/api/jobs/stop", { model });
        let finish: string | null | undefined;
        let streamed = "";
        for await (const chunk of stream) {
          streamed += chunk.choices[0]?.delta?.content ?? "";
          finish = chunk.choices[0]?.finish_reason ?? finish;
        }
        assert.equal(finish, "length");
        assert.ok(streamed.length > 0);
        const stopped = await stopping;
        assert.ok(stopped.every((r) => r.phase === "cancelling" || r.phase === "cancelled"));
        await waitFor("no live job", async () => (await liveJobs(bed, model)).length === 0, {
          timeoutMs: 60_000,
        });
        passed = true;
      } finally {
        await serve.kill("SIGKILL");
        if (!passed) console.log(`The gateway printed:\n${serve.output}`);
      }
    });
  },
});

/** The options of {@linkcode slurmConfig} that {@linkcode withGateway} decides. */
type GatewayBase = Pick<SlurmConfigOptions, "model" | "jobDir" | "stateDir">;

/**
 * Starts an in-process gateway on the config `options` builds (spreading `base` into
 * {@linkcode slurmConfig}); `run` gets its URL; every job is cancelled after.
 */
async function withGateway(
  prefix: string,
  options: (base: GatewayBase) => Record<string, unknown>,
  run: (url: string, model: string) => Promise<void>,
): Promise<void> {
  await withModel(prefix, async ({ model, dir, jobDir }) => {
    const config = ConfigSchema.parse(options({ model, jobDir, stateDir: dir }));
    const gateway = await startGateway(config, { port: 0 });
    try {
      await run(gateway.url, model);
    } finally {
      await gateway.close({ deadlineMs: 2_000 });
    }
  });
}

Deno.test({
  name:
    "a job that fails at start backs off, is resubmitted, and fails after max_attempts with its reason",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withGateway("c1fail", (base) =>
      slurmConfig({
        ...base,
        replicas: 1,
        basePort: freeBasePort(1),
        modelExtra: { command: "/bin/sh -c 'echo no such server; exit 3' {port}" },
      }), async (url) => {
      await waitFor("the replica to fail", async () => (await rowsOf(url))[0]?.phase === "failed", {
        timeoutMs: 90_000,
      });
      const [row] = await rowsOf(url);
      assert.equal(row?.attempts, 3);
      assert.match(row?.lastError ?? "", /FAILED|exit 3/);
      assert.equal(row?.health, "unhealthy");
    });
  },
});

Deno.test({
  name:
    "a partition that refuses a bad QOS falls back to the next by priority, with sbatch's error kept (over SSH, through a tunnel)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withGateway("c1qos", (base) =>
      slurmConfig({
        ...base,
        replicas: 1,
        basePort: freeBasePort(1),
        partitions: [
          { name: "gpu_a", qos: "no_such_qos", account: "testacct", priority: 10 },
          { name: "gpu_b", qos: "normal", account: "testacct", priority: 1 },
        ],
        // Over the testbed's sshd: sbatch and squeue on the "login node", the replica through a tunnel.
        slurm: { ssh: testbedSsh() },
      }), async (url, model) => {
      await waitFor(
        "the replica to be healthy on gpu_b",
        async () => (await rowsOf(url))[0]?.phase === "healthy",
        { timeoutMs: 120_000 },
      );
      const [row] = await rowsOf(url);
      assert.equal(row?.partition, "gpu_b");
      assert.equal(row?.attempts, 2);
      assert.match(row?.lastError ?? "", /Invalid qos specification/);
      // The backend is the tunnel's local end, not the node's own address.
      assert.match(row?.endpoint ?? "", /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.notEqual(row?.endpoint, `http://${row?.node}:${row?.port}`);
      await answers(url, model);
    });
  },
});

Deno.test({
  name:
    "a replica nearing its time limit gets its replacement healthy before it is drained and ends",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withGateway("c1time", (base) =>
      slurmConfig({
        ...base,
        replicas: 1,
        basePort: freeBasePort(2),
        // Over SSH: the old job's tunnel is closed once it is gone, the replacement's stays.
        slurm: { signal_lead: 45, ssh: testbedSsh() },
        modelExtra: { time: "00:01:00" },
      }), async (url, model) => {
      await waitFor(
        "the first job to be healthy",
        async () => (await rowsOf(url))[0]?.phase === "healthy",
        { timeoutMs: 90_000 },
      );
      const first = (await rowsOf(url))[0]!;
      const client = clientOf(url);
      await routable(url, model, 1);
      // Until the replacement took over, every request is answered: no capacity gap.
      await waitFor("the replacement to take over", async () => {
        assert.ok((await ask(client, model)).length > 0);
        const rows = await rowsOf(url);
        return rows.some((r) => r.jobId !== first.jobId && r.phase === "healthy") &&
          !rows.some((r) => r.jobId === first.jobId && r.phase === "healthy");
      }, { timeoutMs: 120_000 });
      const rows = await rowsOf(url);
      assert.ok(rows.every((r) => r.replica === 0));
      // The replacement served on its own port while the old job still held the first one.
      const successor = rows.find((r) => r.jobId !== first.jobId && r.phase === "healthy")!;
      assert.notEqual(successor.port, first.port);
      assert.notEqual(successor.endpoint, first.endpoint);
      // The old job's tunnel goes with it: its local end stops listening (a connect is refused).
      const oldLocalPort = Number(new URL(first.endpoint!).port);
      await waitFor("the old job's tunnel to close", async () => {
        try {
          (await Deno.connect({ hostname: "127.0.0.1", port: oldLocalPort })).close();
          return false;
        } catch {
          return true;
        }
      }, { timeoutMs: 30_000 });
      await answers(url, model);
    });
  },
});

Deno.test({
  name: "autoscale adds a replica while requests wait and drains it once they stop",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withGateway("c1auto", (base) => ({
      ...slurmConfig({
        ...base,
        replicas: 1,
        basePort: freeBasePort(2),
        proxy: { metrics_scrape_interval: 0.5 },
        modelExtra: {
          // One sequence at a time, slowly: concurrent requests wait.
          command: simCommand(" --max-num-seqs 1 --slow-token-ms 100"),
          autoscale: { min: 1, max: 2, target_waiting: 1, cooldown: 2 },
        },
      }),
      // One in flight per replica: the others wait in the gateway's queue, which counts too.
      admission: { max_in_flight_per_replica: 1, adaptive: false },
    }), async (url, model) => {
      await waitFor(
        "the first replica to be healthy",
        async () => healthy(await rowsOf(url)).length === 1,
        { timeoutMs: 90_000 },
      );
      await routable(url, model, 1);
      const client = clientOf(url);
      let loading = true;
      const load = Promise.all(Array.from({ length: 6 }, async () => {
        while (loading) {
          await client.chat.completions.create({
            model,
            messages: [{ role: "user", content: "Tell me a long story" }],
            max_tokens: 30,
          });
        }
      }));
      try {
        await waitFor(
          "a second replica under load",
          async () => healthy(await rowsOf(url)).length === 2,
          { timeoutMs: 120_000 },
        );
      } finally {
        loading = false;
        await load;
      }
      await waitFor("the scale-down once the load is gone", async () => {
        const rows = await rowsOf(url);
        return healthy(rows).length === 1 && rows.some((r) => r.phase === "cancelled");
      }, { timeoutMs: 90_000 });
    });
  },
});

Deno.test({
  name: "a replica whose port is taken on the node is resubmitted on the next port",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const basePort = freeBasePort(2);
    // Another process holds the replica's port on the node (the testbed's node is this machine).
    const squatter = Deno.listen({ hostname: "0.0.0.0", port: basePort });
    try {
      await withGateway(
        "c1port",
        (base) => slurmConfig({ ...base, replicas: 1, basePort }),
        async (url, model) => {
          await waitFor(
            "the replica to be healthy on the next port",
            async () => (await rowsOf(url))[0]?.phase === "healthy",
            { timeoutMs: 90_000 },
          );
          const [row] = await rowsOf(url);
          assert.equal(row?.port, basePort + 1);
          assert.match(row?.lastError ?? "", new RegExp(`port ${basePort} was taken`));
          await answers(url, model);
        },
      );
    } finally {
      squatter.close();
    }
  },
});

Deno.test("serve refuses to start when the login node's host key is unknown, saying how to accept it", async () => {
  const bed = testbedOrSkip("the unknown-host-key serve test");
  if (!bed) return;
  const dir = await Deno.makeTempDir({ prefix: "turnpike-slurm-hostkey-" });
  try {
    await Deno.writeTextFile(`${dir}/known_hosts`, "");
    const configPath = await writeConfig(
      dir,
      slurmConfig({
        model: tag("c1key"),
        replicas: 1,
        basePort: freeBasePort(1),
        stateDir: `${dir}/state`,
        jobDir: `${bed.jobDir}/c1key`,
        slurm: { ssh: testbedSsh({ known_hosts: `${dir}/known_hosts` }) },
      }),
    );
    const serve = new ServeProcess(configPath, freePort("127.0.0.1"));
    const status = await serve.child.status;
    await serve.kill("SIGKILL");
    assert.equal(status.code, 1, serve.output);
    assert.match(serve.output, /Cannot start the gateway: cluster\.slurm\.ssh: /);
    assert.match(serve.output, /accept_new_host_key/);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test({
  name:
    "a submit whose reply was lost (the gateway died between sbatch and storing the job id) is found by its job name, not submitted again",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withModel("c1lost", async ({ bed, model, dir, jobDir }) => {
      const basePort = freeBasePort(1);
      const config = ConfigSchema.parse(
        slurmConfig({ model, replicas: 1, basePort, stateDir: dir, jobDir }),
      );
      // What a gateway killed right after sbatch leaves: the record says a submit was under way
      // with key K, and SLURM has the job named with K; its id never reached KV.
      const now = Date.now();
      const job = {
        ...plannedJob("lost0001", model, 0, now),
        attempts: 1,
        submits: 1,
        key: "lost00011",
        submitIssuedAtMs: now,
        partition: "gpu_a",
        port: basePort,
      };
      const kv = await Deno.openKv(kvPath(config));
      const store = new JobStore(kv);
      await store.putModel({ model, desired: 1, stopped: false });
      await store.putJob(job);
      kv.close();
      const rendered = renderSbatch({
        model: config.models[0]!,
        replica: 0,
        partition: config.cluster.slurm!.partitions[0]!,
        key: job.key,
        jobDir,
        signalLead: 30,
        port: basePort,
      });
      assert.ok(rendered.ok);
      const submitted = await new CliSlurm(new LocalShell()).submit({
        script: rendered.script,
        partition: "gpu_a",
        qos: "normal",
        account: "testacct",
      });
      assert.ok(submitted.ok, JSON.stringify(submitted));

      const gateway = await startGateway(config, { port: 0 });
      try {
        await waitFor(
          "the found job to be healthy",
          async () => (await rowsOf(gateway.url))[0]?.phase === "healthy",
          { timeoutMs: 90_000 },
        );
        const [row] = await rowsOf(gateway.url);
        assert.equal(row?.jobId, submitted.jobId);
        assert.equal(row?.attempts, 1);
        assert.deepStrictEqual((await liveJobs(bed, model)).map((j) => j.jobId), [
          submitted.jobId,
        ]);
      } finally {
        await gateway.close({ deadlineMs: 2_000 });
      }
    });
  },
});

Deno.test({
  name:
    "two gateways on one KV file: one runs the job actors (no job twice), the other takes over when it closes",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withModel("c1pair", async ({ bed, model, dir, jobDir }) => {
      const config = ConfigSchema.parse(
        slurmConfig({ model, replicas: 1, basePort: freeBasePort(1), stateDir: dir, jobDir }),
      );
      const first = await startGateway(config, { port: 0 });
      let second: Awaited<ReturnType<typeof startGateway>> | undefined;
      try {
        second = await startGateway(config, { port: 0 });
        await waitFor(
          "the replica to be healthy",
          async () => (await rowsOf(first.url))[0]?.phase === "healthy",
          { timeoutMs: 90_000 },
        );
        // The second reads the same rows from KV, and submitted nothing of its own.
        assert.deepStrictEqual(
          (await rowsOf(second.url)).map((r) => r.jobId),
          (await rowsOf(first.url)).map((r) => r.jobId),
        );
        assert.equal((await liveJobs(bed, model)).length, 1);
        const jobId = (await rowsOf(first.url))[0]?.jobId;
        await first.close({ deadlineMs: 2_000 });
        // Its lease let go, the second runs the actors: the same job, now routed by the second.
        await answers(second.url, model);
        assert.deepStrictEqual((await liveJobs(bed, model)).map((j) => j.jobId), [jobId]);
      } finally {
        await first.close({ deadlineMs: 2_000 });
        await second?.close({ deadlineMs: 2_000 });
      }
    });
  },
});

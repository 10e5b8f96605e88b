import assert from "node:assert/strict";
import { waitFor } from "../../actors/runtime/testdata/wait.ts";
import { fileURLToPath } from "node:url";
import { ModelSchema } from "../../config/schema.ts";
import { PartitionSchema } from "../../config/slurm_schema.ts";
import { testbed } from "../ssh/testing.ts";
import { freePort } from "../ports.ts";
import {
  parseSacct,
  parseSqueue,
  SACCT_FORMAT,
  SLURM_TIME_FORMAT,
  SQUEUE_FORMAT,
} from "./parse.ts";
import {
  expandHome,
  jobName,
  layoutOf,
  newSubmitKey,
  outputDirsOf,
  parseJobName,
  type RenderedJob,
  type RenderOptions,
  renderSbatch,
  shellQuote,
} from "./render.ts";

/** Waits for a SLURM or job condition: the testbed on a loaded machine may take a while. */
const until = <T>(what: string, check: () => Promise<T | undefined | false>) =>
  waitFor(what, check, { timeoutMs: 180_000, everyMs: 500 });

const model = (fields: Record<string, unknown>) =>
  ModelSchema.parse({ name: "m", model_path: "org/model", ...fields });
const partition = (fields: Record<string, unknown> = {}) =>
  PartitionSchema.parse({ name: "gpu_a", ...fields });

function render(overrides: Partial<RenderOptions> = {}): RenderedJob {
  const job = renderSbatch({
    model: model({}),
    replica: 0,
    partition: partition({ gpus_per_node: 4 }),
    key: "abc123",
    jobDir: "/scratch/alice/.turnpike/jobs",
    signalLead: 300,
    ...overrides,
  });
  if (!job.ok) assert.fail(job.reason);
  return job;
}

async function run(argv: string[], stdin?: string, env: Record<string, string> = {}) {
  const child = new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env,
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/** `bash -n` and shellcheck (Debian's package) on a rendered script: both must pass clean. */
async function assertValidBash(script: string, label: string) {
  const syntax = await run(["bash", "-n", "/dev/stdin"], script);
  assert.equal(syntax.code, 0, `${label}: bash -n: ${syntax.stderr}`);
  const lint = await run(["shellcheck", "--shell=bash", "-"], script);
  assert.equal(lint.code, 0, `${label}: shellcheck:\n${lint.stdout}${lint.stderr}\n${script}`);
}

Deno.test("jobName() and parseJobName() round-trip models with dots and odd characters", () => {
  assert.equal(
    jobName({ model: "llama-3.1-8b", replica: 2, key: "k3x9a0qz" }),
    "tp.llama-3.1-8b.2.k3x9a0qz",
  );
  for (const name of ["llama-3.1-8b", "org/model x", "m|n~ü", "a.0.b", "7"]) {
    const text = jobName({ model: name, replica: 11, key: "z9" });
    assert.match(text, /^tp\.[A-Za-z0-9._~-]+\.11\.z9$/, text);
    assert.deepEqual(parseJobName(text), { model: name, replica: 11, key: "z9" });
  }
  assert.equal(parseJobName("tprec-running"), undefined);
  assert.equal(parseJobName("tp.m.x.abc"), undefined, "a replica is a number");
  assert.equal(parseJobName("tp.m.01.abc"), undefined, "no leading zeros");
  assert.equal(parseJobName("tp.m~zz.0.abc"), undefined, "bad escape");
  assert.equal(parseJobName("tp..0.abc"), undefined);
  assert.throws(() => jobName({ model: "m", replica: -1, key: "a" }), RangeError);
  assert.throws(() => jobName({ model: "m", replica: 0, key: "A-B" }), RangeError);
  const keys = new Set(Array.from({ length: 200 }, newSubmitKey));
  assert.equal(keys.size, 200, "keys do not repeat");
  for (const key of keys) assert.match(key, /^[a-z0-9]{8}$/);
});

Deno.test("renderSbatch() writes every #SBATCH option the model and partition ask for", () => {
  const job = render({
    model: model({
      replicas: 2,
      base_port: 6000,
      tensor_parallel_size: 2,
      max_model_len: 32768,
      time: "10:00:00",
      cpus_per_task: 8,
      vllm_args: ["--enable-prefix-caching"],
      env: { HF_HOME: "/scratch/hf", QUOTED: "it's $HOME" },
    }),
    replica: 1,
    partition: partition({
      gpus_per_node: 4,
      qos: "normal",
      account: "testacct",
      reservation: "resv1",
      constraint: "a100&ib",
      max_time: "04:00:00",
    }),
  });
  assert.equal(job.name, "tp.m.1.abc123");
  assert.equal(job.port, 6001);
  assert.equal(job.time, "04:00:00", "capped at the partition's max_time");
  const directives = job.script.split("\n").filter((l) => l.startsWith("#SBATCH"));
  assert.deepEqual(directives, [
    "#SBATCH --job-name=tp.m.1.abc123",
    "#SBATCH --partition=gpu_a",
    "#SBATCH --qos=normal",
    "#SBATCH --account=testacct",
    "#SBATCH --reservation=resv1",
    "#SBATCH --constraint=a100&ib",
    "#SBATCH --nodes=1",
    "#SBATCH --ntasks-per-node=1",
    "#SBATCH --gres=gpu:2",
    "#SBATCH --cpus-per-task=8",
    "#SBATCH --time=04:00:00",
    "#SBATCH --signal=B:USR1@300",
    "#SBATCH --output=/scratch/alice/.turnpike/jobs/tp.m.1.abc123.out",
    "#SBATCH --error=/scratch/alice/.turnpike/jobs/tp.m.1.abc123.err",
  ]);
  assert.deepEqual(job.argv, [
    "vllm",
    "serve",
    "org/model",
    "--port",
    "6001",
    "--served-model-name",
    "m",
    "--gpu-memory-utilization",
    "0.9",
    "--tensor-parallel-size",
    "2",
    "--max-model-len",
    "32768",
    "--enable-prefix-caching",
  ]);
  assert.match(job.script, /^export HF_HOME=\/scratch\/hf$/m);
  assert.match(job.script, /^export QUOTED='it'\\''s \$HOME'$/m);
  assert.match(job.script, /^export TURNPIKE_PORT=6001$/m);
  assert.deepEqual(outputDirsOf(job.script), ["/scratch/alice/.turnpike/jobs"]);
});

Deno.test("renderSbatch() leaves out what is not set and takes a port override", () => {
  const job = render({ port: 6123, partition: partition() });
  assert.doesNotMatch(job.script, /--qos|--account|--reservation|--constraint|--cpus|--time=/);
  assert.match(job.script, /^#SBATCH --gres=gpu:1$/m);
  assert.equal(job.port, 6123);
  assert.equal(job.time, undefined);
  assert.equal(render({ model: model({ time: "90" }) }).time, "01:30:00");
});

Deno.test("a model wider than a node is laid out over whole nodes with Ray, or refused", () => {
  const wide = render({
    model: model({ tensor_parallel_size: 8 }),
    partition: partition({ gpus_per_node: 4, max_nodes: 2 }),
  });
  assert.equal(wide.nodes, 2);
  assert.equal(wide.gpusPerNode, 4);
  assert.match(wide.script, /^#SBATCH --nodes=2$/m);
  assert.match(wide.script, /^#SBATCH --gres=gpu:4$/m);
  assert.match(wide.script, /^#SBATCH --exclusive$/m);
  assert.match(
    wide.script,
    /srun --overlap --nodes=1 --ntasks=1 -w "\$head_node" ray start --head/,
  );
  assert.match(wide.script, /ray start --block --address="\$RAY_ADDRESS"/);
  const tail = wide.argv.slice(-6);
  assert.deepEqual(tail, [
    "--tensor-parallel-size",
    "4",
    "--pipeline-parallel-size",
    "2",
    "--distributed-executor-backend",
    "ray",
  ]);
  const uneven = renderSbatch({
    model: model({ tensor_parallel_size: 6 }),
    replica: 0,
    partition: partition({ gpus_per_node: 4, max_nodes: 4 }),
    key: "a",
    jobDir: "/j",
    signalLead: 300,
  });
  assert.deepEqual(uneven, {
    ok: false,
    reason: 'tensor_parallel_size 6 spans more than one node of partition "gpu_a" (4 GPUs ' +
      "each) but is not a multiple of 4; use a multiple of 4 or a partition with bigger nodes",
  });
  assert.deepEqual(layoutOf(16, { name: "p", gpus_per_node: 4, max_nodes: 2 }), {
    reason: 'tensor_parallel_size 16 needs 4 nodes of partition "p" (4 GPUs each), but it ' +
      "allows 2 (max_nodes); raise max_nodes if the partition allows more, or quantize the model",
  });
});

Deno.test("every rendered variant passes bash -n and shellcheck", async () => {
  const variants: [string, RenderedJob][] = [
    ["default vllm", render()],
    [
      "everything set",
      render({
        model: model({
          tensor_parallel_size: 2,
          max_model_len: 8192,
          time: "1-00:00:00",
          cpus_per_task: 4,
          vllm_args: ["--enable-prefix-caching", "--chat-template", "/x/tmpl with space.jinja"],
          env: { A: "x y", B: "'\"$`\\", C: "" },
          scheduling_policy: "priority",
        }),
        partition: partition({
          gpus_per_node: 4,
          qos: "high",
          account: "acct",
          reservation: "r",
          constraint: "a100|h100",
          max_time: "2-00:00:00",
        }),
      }),
    ],
    [
      "simulator",
      render({
        model: model({
          name: "odd name's",
          command: "/usr/bin/deno run -A main.ts sim --port {port}",
        }),
      }),
    ],
    [
      "multi-node",
      render({
        model: model({ tensor_parallel_size: 16 }),
        partition: partition({ gpus_per_node: 8, max_nodes: 2 }),
      }),
    ],
  ];
  for (const [label, job] of variants) await assertValidBash(job.script, label);
});

Deno.test("shellQuote() words read back by bash as they were", async () => {
  const words = [
    "plain",
    "a b",
    "it's",
    "",
    "'\"$`\\",
    "tab\there",
    "line\nbreak",
    "ü ~ * ?",
    "a\\",
  ];
  const echoed = await run(["bash", "-c", `printf '%s\\0' ${words.map(shellQuote).join(" ")}`]);
  assert.deepEqual(echoed.stdout.split("\0").slice(0, -1), words);
});

Deno.test("shellQuote() and expandHome() make words and paths safe for the cluster", () => {
  assert.equal(shellQuote("plain-word_1.2/x:y=z"), "plain-word_1.2/x:y=z");
  assert.equal(shellQuote("a b"), "'a b'");
  assert.equal(shellQuote("it's"), "'it'\\''s'");
  assert.equal(shellQuote(""), "''");
  assert.equal(expandHome("~/.turnpike/jobs", "/home/alice/"), "/home/alice/.turnpike/jobs");
  assert.equal(expandHome("~", "/home/alice"), "/home/alice");
  assert.equal(expandHome("/abs/~x", "/home/alice"), "/abs/~x");
});

Deno.test({
  name: "a rendered simulator job runs on the testbed, answers /health, keeps serving at USR1",
  sanitizeResources: false,
  async fn() {
    const bed = testbed();
    // Jobs inherit sbatch's environment (--export=ALL): deno finds its cache through it.
    const env = { ...Deno.env.toObject(), SLURM_CONF: bed.slurmConf };
    const main = fileURLToPath(new URL("../../main.ts", import.meta.url));
    const jobDir = await Deno.makeTempDir({ prefix: "tp-render-test-" });
    const port = freePort();
    const job = render({
      model: model({
        name: "render-test",
        // A bash in front shows the exported env in the log, then becomes the simulator.
        command: `bash -c 'echo "env TP_RENDER_ENV=$TP_RENDER_ENV" >&2; exec "$@"' wrap ` +
          `${Deno.execPath()} run -A ${main} sim --port {port} --model {name}`,
        vllm_args: ["--max-model-len", "4096"],
        env: { TP_RENDER_ENV: "a b 'c' $HOME" },
        time: "10",
      }),
      partition: partition({ name: "gpu_a", qos: "normal", account: "testacct" }),
      port,
      key: newSubmitKey(),
      jobDir,
      signalLead: 60,
    });
    let jobId: string | undefined;
    try {
      const submitted = await run(["sbatch", "--parsable"], job.script, env);
      assert.equal(submitted.code, 0, submitted.stderr);
      jobId = submitted.stdout.trim().split(";")[0]!;
      const health = await until("the replica's /health", async () => {
        const queue = await run(
          ["squeue", "--noheader", "-t", "all", "-j", jobId!, "-o", SQUEUE_FORMAT],
          undefined,
          env,
        );
        const info = parseSqueue(queue.stdout)[0];
        if (info && info.state !== "PENDING" && info.state !== "RUNNING") {
          assert.fail(`job ended ${info.state}: ${await readOr(job.errorPath)}`);
        }
        if (info?.state !== "RUNNING" || !info.node) return undefined;
        assert.equal(info.name, job.name);
        return await fetch(`http://${info.node}:${port}/health`).then(
          (r) => r.body?.cancel().then(() => r.status),
          () => undefined,
        );
      });
      assert.equal(health, 200);
      // vllm_args reached the server, and env the job.
      const models = await (await fetch(`http://127.0.0.1:${port}/v1/models`)).json();
      assert.equal(models.data[0].max_model_len, 4096);
      assert.match(await readOr(job.errorPath), /^env TP_RENDER_ENV=a b 'c' \$HOME$/m);
      // The time-limit notice: the batch shell notes it and the server keeps answering.
      const usr1 = await run(["scancel", "--batch", "--signal=USR1", jobId], undefined, env);
      assert.equal(usr1.code, 0, usr1.stderr);
      await until(
        "the USR1 note in the log",
        async () => (await readOr(job.errorPath)).includes("(USR1); still serving"),
      );
      const after = await fetch(`http://127.0.0.1:${port}/health`);
      await after.body?.cancel();
      assert.equal(after.status, 200);
      assert.match(await readOr(job.errorPath), /turnpike: job \d+ replica render-test\/0 on /);
      // scancel's SIGTERM reaches the wrapper, which passes it on and reports the server's end.
      const cancelled = await run(["scancel", jobId], undefined, env);
      assert.equal(cancelled.code, 0, cancelled.stderr);
      await until("the wrapper's stop lines", async () => {
        const log = await readOr(job.errorPath);
        return log.includes("turnpike: stopping the server") &&
          /turnpike: server exited with status \d+/.test(log);
      });
    } finally {
      if (jobId) await run(["scancel", jobId], undefined, env);
      // The port closes once the job is gone; wait so no simulator outlives the test.
      await until("the replica's port closed", () =>
        fetch(`http://127.0.0.1:${port}/health`).then(
          (r) => r.body?.cancel().then(() => false),
          () => true,
        )).catch(() => {});
      await Deno.remove(jobDir, { recursive: true }).catch(() => {});
    }
  },
});

async function readOr(path: string): Promise<string> {
  return await Deno.readTextFile(path).catch(() => "");
}

Deno.test({
  name: "a rendered job whose server fails ends FAILED with the server's exit code",
  sanitizeResources: false,
  async fn() {
    const bed = testbed();
    const env = { ...Deno.env.toObject(), SLURM_CONF: bed.slurmConf };
    const jobDir = await Deno.makeTempDir({ prefix: "tp-render-test-" });
    const job = render({
      model: model({ name: "render-fail", command: "bash -c 'echo starting >&2; exit 3'" }),
      partition: partition({ name: "gpu_a" }),
      key: newSubmitKey(),
      jobDir,
    });
    let jobId: string | undefined;
    try {
      const submitted = await run(["sbatch", "--parsable"], job.script, env);
      assert.equal(submitted.code, 0, submitted.stderr);
      jobId = submitted.stdout.trim().split(";")[0]!;
      const id = jobId;
      const info = await until("the job to fail in sacct", async () => {
        const out = await run(
          ["sacct", "-X", "-P", "-n", `--format=${SACCT_FORMAT}`, `--jobs=${id}`],
          undefined,
          { ...env, SLURM_TIME_FORMAT },
        );
        return parseSacct(out.stdout).find((j) => j.state === "FAILED");
      });
      assert.equal(info.exitCode, "3:0");
      assert.match(
        await readOr(job.errorPath),
        /starting\n.*turnpike: server exited with status 3/s,
      );
    } finally {
      if (jobId) await run(["scancel", jobId], undefined, env);
      await Deno.remove(jobDir, { recursive: true }).catch(() => {});
    }
  },
});

/** `jobs plan` run as a subprocess, the way a user runs it, on configs written to a temp dir. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Plan, PLAN_USAGE } from "./plan.ts";

const entry = fileURLToPath(new URL("./plan.ts", import.meta.url));

async function plan(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", entry, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

const SLURM = `
cluster:
  type: slurm
  slurm:
    job_dir: /scratch/alice/jobs
    partitions:
      - {name: gpu_a, gpus_per_node: 4, priority: 10, gpu_memory_gb: 80, qos: normal}
      - {name: gpu_b, gpus_per_node: 8, priority: 1, gpu_memory_gb: 40}
`;

async function withConfig(
  text: string,
  body: (path: string, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tp-plan-test-" });
  try {
    const path = join(dir, "turnpike.yaml");
    await Deno.writeTextFile(path, text.replaceAll("$DIR", dir));
    await body(path, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("jobs plan prints each replica's script and the capacity per partition; exit 0 when all fit", async () => {
  await withConfig(
    SLURM +
      "models:\n  - {name: llama-8b, model_path: meta-llama/Llama-3.1-8B-Instruct, replicas: 2," +
      " max_model_len: 32768, base_port: 6000}\n  - {name: static, endpoints: ['http://h:1']}\n",
    async (path) => {
      const { code, stdout, stderr } = await plan(["--config", path]);
      assert.equal(code, 0, stderr);
      // gpu_a: 72 GiB a GPU, 450,907 KV tokens (capacity_test.ts has the arithmetic).
      assert.match(stdout, /Partition gpu_a \(priority 10\): fits: .*KV cache 450907 tokens/);
      // gpu_b: (40 x 0.9 - 2) GiB - 16,060,522,496 B = 20,446,699,520 B / 131,072 B = 155,995 tokens.
      assert.match(stdout, /Partition gpu_b \(priority 1\): fits: .*155995 tokens.* 4 concurrent/);
      assert.match(stdout, /Replica 0 on gpu_a: job tp\.llama-8b\.0\.plan .*port 6000/);
      assert.match(stdout, /Replica 1 on gpu_a: job tp\.llama-8b\.1\.plan .*port 6001/);
      assert.match(
        stdout,
        /^ {4}#SBATCH --output=\/scratch\/alice\/jobs\/tp\.llama-8b\.1\.plan\.out$/m,
      );
      assert.doesNotMatch(stdout, /static/, "a model with endpoints is not launched");
      assert.match(stdout, /Every model fits\. Nothing was submitted/);
    },
  );
});

Deno.test("jobs plan refuses a model that does not fit, with the numbers and what would; exit 1", async () => {
  await withConfig(
    SLURM +
      "models:\n  - {name: big, model_path: meta-llama/Llama-3.1-70B-Instruct, max_model_len: 32768}\n",
    async (path) => {
      const { code, stdout } = await plan(["--config", path]);
      assert.equal(code, 1);
      assert.match(
        stdout,
        /gpu_a \(priority 10\): REFUSED: the weights do not fit: 131\.4 GiB over 1 GPU/,
      );
      assert.match(stdout, /would fit with tensor_parallel_size: 4: .*486878 tokens/);
      assert.match(stdout, /would fit with quantization: awq \(or gptq, int4\): .*121719 tokens/);
      assert.match(stdout, /Refused: big on gpu_a, big on gpu_b\. Nothing was submitted\./);
      const json = await plan(["--config", path, "--json"]);
      assert.equal(json.code, 1);
      const parsed: Plan = JSON.parse(json.stdout);
      assert.equal(parsed.ok, false);
      const [gpuA] = parsed.models[0]!.partitions;
      assert.equal(gpuA?.status, "refused");
      assert.deepEqual(gpuA?.suggestions.map((s) => s.setting), [
        "tensor_parallel_size: 4",
        "quantization: awq (or gptq, int4)",
      ]);
      assert.equal(parsed.models[0]!.replicas[0]?.name, "tp.big.0.plan");
    },
  );
});

Deno.test("jobs plan reads a local model's config.json, and refuses a layout wider than allowed", async () => {
  await withConfig(
    SLURM +
      "models:\n  - {name: local, model_path: $DIR/model, max_model_len: 8192}\n" +
      "  - {name: wide, model_path: meta-llama/Llama-3.1-70B-Instruct, tensor_parallel_size: 16," +
      " base_port: 7000}\n  - {name: mystery, model_path: org/unknown, base_port: 7100}\n",
    async (path, dir) => {
      await Deno.mkdir(join(dir, "model"));
      await Deno.writeTextFile(
        join(dir, "model", "config.json"),
        JSON.stringify({
          hidden_size: 4096,
          intermediate_size: 14336,
          num_attention_heads: 32,
          num_hidden_layers: 32,
          num_key_value_heads: 8,
          vocab_size: 128256,
          max_position_embeddings: 131072,
        }),
      );
      const { code, stdout } = await plan(["--config", path, "--json"]);
      assert.equal(code, 1);
      const parsed: Plan = JSON.parse(stdout);
      const [local, wide, mystery] = parsed.models;
      assert.equal(local?.shape, join(dir, "model", "config.json"));
      assert.equal(local?.partitions[0]?.status, "fits");
      // 8,030,261,248 params from the config: the same 450,907 tokens as the known shape.
      assert.equal(local?.partitions[0]?.figures?.kvTokens, 450_907);
      assert.equal(wide?.partitions[0]?.status, "refused");
      assert.match(wide!.partitions[0]!.reason!, /needs 4 nodes of partition "gpu_a".*max_nodes/);
      assert.equal(mystery?.partitions[0]?.status, "unchecked");
      assert.match(mystery!.partitions[0]!.reason!, /the model's size is unknown: set params_b/);
      const one = await plan(["--config", path, "--model", "local"]);
      assert.equal(one.code, 0, one.stdout);
      assert.doesNotMatch(one.stdout, /wide/);
    },
  );
});

Deno.test("jobs plan: --help, a bad flag, an unknown model, a bad config and a local cluster", async () => {
  const help = await plan(["--help"]);
  assert.equal(help.code, 0);
  assert.equal(help.stdout.trim(), PLAN_USAGE);
  const bad = await plan(["--bogus"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Unknown option '--bogus'/);
  await withConfig(SLURM + "models: [{name: llama-8b, model_path: org/m}]\n", async (path) => {
    const unknown = await plan(["--config", path, "--model", "llama-9b"]);
    assert.equal(unknown.code, 2);
    assert.match(
      unknown.stderr,
      /No launched model "llama-9b" in the config; did you mean "llama-8b"\?/,
    );
  });
  await withConfig(
    SLURM + "models: [{name: m, model_path: org/m, autoscale: {max: 0}}]\n",
    async (path) => {
      const invalid = await plan(["--config", path]);
      assert.equal(invalid.code, 2);
      assert.match(
        invalid.stderr,
        /models\[0\]\.autoscale\.max: expected a positive integer, got 0/,
      );
    },
  );
  await withConfig("models: [{name: m, model_path: org/m}]\n", async (path) => {
    const local = await plan(["--config", path]);
    assert.equal(local.code, 2);
    assert.match(local.stderr, /jobs plan renders SLURM jobs: the config's cluster\.type is local/);
  });
});

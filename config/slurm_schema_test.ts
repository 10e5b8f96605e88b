import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "./loader.ts";

const noEnv = { env: {} };

function problemsOf(text: string): readonly string[] {
  try {
    parseConfig(text, "test.yaml", noEnv);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  assert.fail("expected a ConfigError");
}

const FULL = `
cluster:
  type: slurm
  slurm:
    api: cli
    partitions:
      - {name: gpu_a, qos: normal, account: testacct, gpus_per_node: 4, priority: 10,
         gpu_memory_gb: 80, reservation: x, constraint: "a100", max_time: "04:00:00"}
      - {name: gpu_b}
    ssh:
      host: login.example.org
      port: 2222
      user: alice
      key: ~/.ssh/id_ed25519
      agent: true
      known_hosts: ~/.ssh/known_hosts
      accept_new_host_key: true
      proxy_jump: bob@bastion.example.org:2200
      keepalive_interval: 20
    poll_interval: 5
    pending_timeout: 60
    max_attempts: 3
    backoff: {initial: 1, max: 30}
    job_dir: /scratch/jobs
    signal_lead: 120
models:
  - name: m
    model_path: org/model
    replicas: 2
    base_port: 5900
    tensor_parallel_size: 2
    max_model_len: 32768
    command: "sim --port {port}"
    vllm_args: ["--enable-prefix-caching"]
    env: {HF_HOME: /scratch/hf}
    time: "1-00:00:00"
    params_b: 8
    dtype: float16
    quantization: fp8
    autoscale: {min: 1, max: 4, target_waiting: 2, target_kv_usage: 0.7, cooldown: 60}
`;

Deno.test("the whole SLURM contract parses, every key kept", () => {
  const config = parseConfig(FULL, "t", noEnv);
  const slurm = config.cluster.slurm!;
  assert.equal(slurm.api, "cli");
  assert.deepEqual(slurm.partitions[0], {
    name: "gpu_a",
    qos: "normal",
    account: "testacct",
    gpus_per_node: 4,
    priority: 10,
    gpu_memory_gb: 80,
    reservation: "x",
    constraint: "a100",
    max_time: "04:00:00",
    max_nodes: 1,
  });
  assert.deepEqual(slurm.partitions[1], {
    name: "gpu_b",
    gpus_per_node: 1,
    priority: 1,
    max_nodes: 1,
  });
  assert.deepEqual(slurm.ssh, {
    host: "login.example.org",
    port: 2222,
    user: "alice",
    key: "~/.ssh/id_ed25519",
    agent: true,
    known_hosts: "~/.ssh/known_hosts",
    accept_new_host_key: true,
    proxy_jump: "bob@bastion.example.org:2200",
    keepalive_interval: 20,
  });
  assert.deepEqual(slurm.backoff, { initial: 1, max: 30 });
  assert.equal(slurm.job_dir, "/scratch/jobs");
  const model = config.models[0]!;
  assert.deepEqual(model.vllm_args, ["--enable-prefix-caching"]);
  assert.deepEqual(model.env, { HF_HOME: "/scratch/hf" });
  assert.equal(model.time, "1-00:00:00");
  assert.equal(model.dtype, "float16");
  assert.equal(model.quantization, "fp8");
  assert.deepEqual(model.autoscale, {
    min: 1,
    max: 4,
    target_waiting: 2,
    target_kv_usage: 0.7,
    cooldown: 60,
  });
});

Deno.test("a minimal SLURM section gets the documented defaults and needs no ssh", () => {
  const config = parseConfig(
    "cluster: {type: slurm, slurm: {partitions: [{name: p}]}}\n" +
      "models: [{name: m, model_path: org/m}]",
    "t",
    noEnv,
  );
  const slurm = config.cluster.slurm!;
  assert.equal(slurm.ssh, undefined);
  assert.equal(slurm.api, "cli");
  assert.equal(slurm.poll_interval, 10);
  assert.equal(slurm.pending_timeout, 600);
  assert.equal(slurm.max_attempts, 5);
  assert.deepEqual(slurm.backoff, { initial: 5, max: 300 });
  assert.equal(slurm.job_dir, "~/.turnpike/jobs");
  assert.equal(slurm.signal_lead, 300);
  const model = config.models[0]!;
  assert.deepEqual(model.vllm_args, []);
  assert.deepEqual(model.env, {});
  assert.equal(model.dtype, "bfloat16");
  assert.equal(model.quantization, "none");
  assert.equal(model.autoscale, undefined);
  const ssh = parseConfig(
    "cluster: {type: slurm, slurm: {partitions: [{name: p}], ssh: {host: h, user: u}}}",
    "t",
    noEnv,
  ).cluster.slurm!.ssh!;
  assert.equal(ssh.port, 22);
  assert.equal(ssh.agent, false);
  assert.equal(ssh.known_hosts, "~/.ssh/known_hosts");
  assert.equal(ssh.accept_new_host_key, false);
  assert.equal(ssh.keepalive_interval, 15);
});

Deno.test("api: rest needs its rest section, with exactly one of token and token_command", () => {
  assert.deepEqual(
    problemsOf("cluster: {type: slurm, slurm: {api: rest, partitions: [{name: p}]}}"),
    [
      'cluster.slurm.rest: required when api is "rest": give slurmrestd\'s url, user and token',
    ],
  );
  assert.deepEqual(
    problemsOf(
      "cluster: {type: slurm, slurm: {api: rest, partitions: [{name: p}], " +
        "rest: {url: 'http://127.0.0.1:6820', user: u}}}",
    ),
    [
      "cluster.slurm.rest.token: required: set token, or token_command to fetch one " +
      '(for example "scontrol token lifespan=3600")',
    ],
  );
  assert.deepEqual(
    problemsOf(
      "cluster: {type: slurm, slurm: {api: rest, partitions: [{name: p}], " +
        "rest: {url: 'ftp://x', user: u, token: a, token_command: b}}}",
    ),
    [
      'cluster.slurm.rest.url: expected an http:// or https:// URL, got "ftp://x"',
      "cluster.slurm.rest.token_command: set token or token_command, not both",
    ],
  );
  const rest = parseConfig(
    "cluster: {type: slurm, slurm: {api: rest, partitions: [{name: p}], " +
      "rest: {url: 'http://127.0.0.1:6820', user: u, token_command: 'scontrol token'}}}",
    "t",
    noEnv,
  ).cluster.slurm!.rest!;
  assert.equal(rest.token_lifespan, 3600);
  assert.equal(rest.token_command, "scontrol token");
});

Deno.test("bad SLURM values are named by their YAML path", () => {
  const problems = problemsOf(`
cluster:
  type: slurm
  slurm:
    api: grpc
    partitions:
      - {name: a, max_time: "4 hours", gpu_memory_gb: 0}
      - {name: a, gpus_per_node: 0}
    ssh: {host: h, user: u, proxy_jump: "a b@c", keepalive_intervl: 3}
    backoff: {initial: 10, max: 5}
    signal_lead: 0
`);
  assert.deepEqual(problems, [
    'cluster.slurm.api: expected one of "cli", "rest", got "grpc"',
    'cluster.slurm.partitions[0].max_time: expected a SLURM time limit such as "04:00:00", ' +
    '"1-00:00:00" or "90" (minutes); quote it in YAML',
    "cluster.slurm.partitions[0].gpu_memory_gb: expected a positive number, got 0",
    "cluster.slurm.partitions[1].gpus_per_node: expected a positive integer, got 0",
    'cluster.slurm.ssh.proxy_jump: expected "[user@]host[:port]", for example ' +
    '"alice@bastion.example.org:22"',
    'cluster.slurm.ssh.keepalive_intervl: unknown key, did you mean "keepalive_interval"?',
    "cluster.slurm.backoff.max: must be at least initial (10)",
    "cluster.slurm.signal_lead: expected an integer from 1 to 65535, got 0",
  ]);
  assert.deepEqual(
    problemsOf(
      "cluster: {type: slurm, slurm: {partitions: [{name: a}, {name: a}], " +
        "ssh: {host: h, user: u, proxy_jump: 'a b@c'}}}",
    ),
    [
      'cluster.slurm.partitions[1].name: duplicate partition "a"',
      'cluster.slurm.ssh.proxy_jump: expected "[user@]host[:port]", for example ' +
      '"alice@bastion.example.org:22"',
    ],
  );
});

Deno.test("autoscale bounds: min <= replicas <= max, named by path", () => {
  assert.deepEqual(
    problemsOf(`
models:
  - {name: a, model_path: org/a, replicas: 5, autoscale: {max: 4}}
  - {name: b, model_path: org/b, base_port: 6000, autoscale: {min: 3, max: 2}}
  - {name: c, model_path: org/c, base_port: 6100, autoscale: {min: 0, max: 2, target_kv_usage: 1.5}}
  - {name: d, endpoints: ["http://h:1"], autoscale: {max: 2}}
  - {name: e, model_path: org/e, base_port: 6200, autoscale: {min: 2}}
`),
    [
      "models[0].replicas: 5 is outside autoscale's 1-4; start within the bounds",
      "models[1].autoscale.max: must be at least autoscale.min (3)",
      "models[2].autoscale.min: expected a positive integer, got 0",
      "models[2].autoscale.target_kv_usage: expected a number above 0 and at most 1, got 1.5",
      "models[3].autoscale: a model with endpoints is not launched; remove autoscale or endpoints",
      "models[4].autoscale.max: required, expected a positive integer",
    ],
  );
  const ok = parseConfig(
    "models: [{name: a, model_path: org/a, replicas: 2, autoscale: {min: 1, max: 3}}]",
    "t",
    noEnv,
  );
  assert.deepEqual(ok.models[0]!.autoscale, {
    min: 1,
    max: 3,
    target_waiting: 4,
    target_kv_usage: 0.8,
    cooldown: 120,
  });
});

Deno.test("new model fields are checked: dtype, quantization, time, env names", () => {
  assert.deepEqual(
    problemsOf(`
models:
  - {name: a, model_path: org/a, dtype: bf16, quantization: int3, time: "1:2:3:4", params_b: -8,
     env: {"1BAD": x}, vllm_args: [""]}
`),
    [
      'models[0].dtype: expected one of "bfloat16", "float16", "float32", got "bf16"',
      'models[0].quantization: expected one of "none", "fp8", "int8", "awq", "int4", "gptq", ' +
      'got "int3" (did you mean "int8"?)',
      'models[0].time: expected a SLURM time limit such as "04:00:00", "1-00:00:00" or "90" ' +
      "(minutes); quote it in YAML",
      "models[0].params_b: expected a positive number, got -8",
      'models[0].env["1BAD"]: not a variable name; use letters, digits and _, not starting ' +
      "with a digit",
      'models[0].vllm_args[0]: expected a non-empty string, got ""',
    ],
  );
});

Deno.test("cluster.gpus: local only, no duplicates, enough for replicas x tensor_parallel_size", () => {
  const local = parseConfig(
    "cluster: {gpus: [0, 1, 2, 3]}\nmodels: [{name: a, model_path: org/a, replicas: 2, " +
      "tensor_parallel_size: 2}]",
    "t",
    noEnv,
  );
  assert.deepEqual(local.cluster.gpus, [0, 1, 2, 3]);
  assert.deepEqual(
    problemsOf(
      "cluster: {gpus: [0, 1]}\nmodels: [{name: a, model_path: org/a, replicas: 2, " +
        "tensor_parallel_size: 2}]",
    ),
    [
      "cluster.gpus: 2 GPUs listed, but the launched models need 4 (replicas x " +
      "tensor_parallel_size); list more or launch fewer",
    ],
  );
  assert.deepEqual(problemsOf("cluster: {gpus: [0, 0]}"), ["cluster.gpus: GPU 0 is listed twice"]);
  assert.deepEqual(
    problemsOf("cluster: {type: slurm, gpus: [0], slurm: {partitions: [{name: p}]}}"),
    ["cluster.gpus: only for cluster.type local; SLURM hands out GPUs with --gres"],
  );
});

Deno.test("values that go on #SBATCH lines may not hold spaces", () => {
  assert.deepEqual(
    problemsOf(
      "cluster: {type: slurm, slurm: {job_dir: '/my jobs', partitions: [{name: 'gpu a', " +
        "constraint: 'a100 & ib'}]}}",
    ),
    [
      "cluster.slurm.job_dir: must not contain spaces (it goes on an #SBATCH line)",
      "cluster.slurm.partitions[0].name: must not contain spaces (it goes on an #SBATCH line)",
      "cluster.slurm.partitions[0].constraint: must not contain spaces (it goes on an #SBATCH " +
      "line)",
    ],
  );
});

Deno.test("a job time not longer than signal_lead is refused", () => {
  assert.deepEqual(
    problemsOf("cluster: {type: slurm, slurm: {partitions: [{name: p}], signal_lead: 70000}}"),
    ["cluster.slurm.signal_lead: expected an integer from 1 to 65535, got 70000"],
  );
  assert.deepEqual(
    problemsOf(
      "cluster: {type: slurm, slurm: {partitions: [{name: p}], signal_lead: 300}}\n" +
        "models: [{name: a, model_path: org/a, time: '5'}]",
    ),
    [
      "models[0].time: 300 s is not longer than cluster.slurm.signal_lead (300 s); a " +
      "replacement would start at once; give a longer time or a shorter signal_lead",
    ],
  );
});

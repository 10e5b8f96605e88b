import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigError, kvPath, loadConfig, parseConfig, StateDirError } from "./loader.ts";

const noEnv = { env: {} };

function problemsOf(text: string, env: Record<string, string> = {}): readonly string[] {
  try {
    parseConfig(text, "test.yaml", { env });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("config/example.yaml loads with its launched and static models", async () => {
  const config = await loadConfig(new URL("./example.yaml", import.meta.url).pathname, noEnv);
  assert.equal(config.cluster.type, "local");
  assert.deepEqual(config.proxy.strategy, { prefix_aware: 2, least_load: 1 });
  assert.deepEqual(config.models.map((m) => m.name), ["llama-3.1-8b-sim", "qwen-2.5-7b"]);
  assert.equal(config.models[0]?.replicas, 2);
  assert.match(config.models[0]?.command ?? "", /^deno run -A main\.ts sim --port \{port\}/);
  assert.deepEqual(config.models[1]?.endpoints, ["http://127.0.0.1:6901", "http://127.0.0.1:6902"]);
});

Deno.test("loadConfig() without a path gives the built-in default: every default, no models", async () => {
  const config = await loadConfig(undefined, noEnv);
  assert.equal(config.proxy.port, 5800);
  assert.equal(config.proxy.strategy, "prefix_aware");
  assert.deepEqual(config.models, []);
  assert.equal(config.state_dir, ".turnpike");
  assert.equal(config.headers.session, "X-Session-ID");
  assert.deepEqual(config.proxy.records, {
    retention: 10_000,
    ttl: 86_400,
    flush_interval: 0.2,
    flush_records: 500,
  });
  assert.equal(config.proxy.registration_sync_interval, 1);
});

Deno.test("proxy.records is checked key by key, with a hint for a misspelt one", () => {
  assert.deepEqual(problemsOf("proxy: {records: {retention: 0, flush_records: 501, tll: 5}}"), [
    "proxy.records.retention: expected a positive integer, got 0",
    "proxy.records.flush_records: expected an integer from 1 to 500, got 501",
    'proxy.records.tll: unknown key, did you mean "ttl"?',
  ]);
});

Deno.test("parseConfig() fills defaults inside a partly written section", () => {
  const config = parseConfig(
    "proxy: {port: 6000}\nmodels: [{name: m, model_path: org/m}]",
    "t",
    noEnv,
  );
  assert.equal(config.proxy.port, 6000);
  assert.equal(config.proxy.request_timeout, 300);
  assert.equal(config.models[0]?.replicas, 1);
  assert.equal(config.models[0]?.base_port, 5900);
});

Deno.test("an empty file is the default config", () => {
  assert.equal(parseConfig("", "t", noEnv).proxy.port, 5800);
  assert.equal(parseConfig("# only a comment\n", "t", noEnv).models.length, 0);
});

Deno.test("every problem is reported at once, each with its YAML path, in document order", () => {
  const problems = problemsOf(`
proxy:
  port: 70000
  request_timeout: -1
models:
  - {name: a, model_path: org/a}
  - {name: b, model_path: org/b, base_port: 6000, replicas: two}
  - {name: c, endpoints: ["not a url"], gpu_memory_utilization: 1.5}
`);
  assert.deepEqual(problems, [
    "proxy.port: expected an integer from 1 to 65535, got 70000",
    "proxy.request_timeout: expected a positive number, got -1",
    'models[1].replicas: expected a positive integer, got "two"',
    'models[2].endpoints[0]: expected an http:// or https:// URL, got "not a url"',
    "models[2].gpu_memory_utilization: expected a number above 0 and at most 1, got 1.5",
  ]);
});

Deno.test("an unknown key is rejected with a did-you-mean hint from the keys allowed there", () => {
  const problems = problemsOf(`
proxy: {prot: 5800, strategy: {prefix_awre: 1}}
clustr: {type: local}
models:
  - {name: a, model_path: org/a, replicsa: 2, GPU-memory-utilization: 0.5}
headers: {sesion: X-S, zzzzzz: 1}
`);
  assert.deepEqual(problems, [
    'proxy.prot: unknown key, did you mean "port"?',
    'proxy.strategy.prefix_awre: unknown key, did you mean "prefix_aware"?',
    'clustr: unknown key, did you mean "cluster"?',
    'models[0].replicsa: unknown key, did you mean "replicas"?',
    'models[0].GPU-memory-utilization: unknown key, did you mean "gpu_memory_utilization"?',
    'headers.sesion: unknown key, did you mean "session"?',
    "headers.zzzzzz: unknown key; allowed keys here are session, task, client, timing_pre, " +
    "timing_post, priority",
  ]);
});

Deno.test("a wrong enum value gets the allowed values and the closest one", () => {
  assert.deepEqual(problemsOf("cluster: {type: slrum}\nproxy: {strategy: least_lod}"), [
    'cluster.type: expected one of "local", "slurm", got "slrum" (did you mean "slurm"?)',
    'proxy.strategy: expected one of "round_robin", "least_connections", "least_latency", ' +
    '"least_load", "session_affinity", "prefix_aware", "sglang_cache_aware", "llmd_default", "consistent_hash", or a mapping of those names to ' +
    'positive numbers, got "least_lod" (did you mean "least_load"?)',
  ]);
});

Deno.test("a missing required key and a wrong container type are named", () => {
  assert.deepEqual(problemsOf("models:\n  - model_path: org/a\nheaders: [X-Session-ID]"), [
    "models[0].name: required, expected a non-empty string",
    "headers: expected a mapping with keys session, task, client, timing_pre, timing_post, " +
    "priority, got a list",
  ]);
  assert.deepEqual(problemsOf("- just\n- a list"), [
    "(top level): expected a mapping with keys proxy, cluster, models, headers, sessions, " +
    "admission, limits, auth, logging, slo, state_dir, got a list",
  ]);
});

Deno.test("a YAML syntax error names its line and column", () => {
  const problems = problemsOf("proxy:\n  port: 5800\n  strategy: [round_robin\nmodels: []\n");
  assert.equal(problems.length >= 1, true);
  assert.match(problems[0]!, /^line \d+, column \d+: /);
  const [tabbed] = problemsOf("proxy:\n  port: 1\n bad: 2\n");
  assert.equal(tabbed, "line 3, column 1: All mapping items must start at the same column");
});

Deno.test("a duplicate key is a syntax error at the second occurrence", () => {
  assert.deepEqual(problemsOf("proxy: {port: 1}\nproxy: {port: 2}\n"), [
    "line 2, column 1: Map keys must be unique",
  ]);
});

Deno.test("launched models are checked: template placeholders, model_path, port ranges", () => {
  const problems = problemsOf(`
models:
  - {name: a, command: "sim --port {prot} --name {name}"}
  - {name: b, base_port: 6000}
  - {name: c, command: "sim '--port {port}", base_port: 6100}
  - {name: d, command: "sim --port {port}", endpoints: ["http://127.0.0.1:1"]}
  - {name: e, model_path: org/e, command: "x --len {max_model_len} --port {port}", base_port: 7000}
`);
  assert.deepEqual(problems, [
    "models[0].command: unknown placeholder {prot}, did you mean {port}?",
    "models[1].model_path: required to launch this model (the default vllm command uses " +
    "{model_path}); set it, or list endpoints for replicas that already run",
    "models[2].command: the template has an unclosed ' quote; close it",
    "models[3].command: a model with endpoints is not launched; remove command or endpoints",
    "models[4].max_model_len: required to launch this model (command uses {max_model_len}); " +
    "set it, or list endpoints for replicas that already run",
  ]);
});

Deno.test("launched local replicas may not share ports with each other or the gateway", () => {
  assert.deepEqual(
    problemsOf(`
proxy: {port: 5902}
models:
  - {name: a, model_path: org/a, base_port: 5900, replicas: 2}
  - {name: b, model_path: org/b, base_port: 5901}
  - {name: c, model_path: org/c, base_port: 65535, replicas: 2}
  - {name: d, endpoints: ["http://127.0.0.1:5900"]}
`),
    [
      'models[1].base_port: port 5901 overlaps models[0] "a" (5900-5901); give each launched ' +
      "model its own base_port",
      "models[2].base_port: 2 replicas need ports 65535-65536, past 65535; lower base_port",
    ],
  );
  assert.deepEqual(
    problemsOf("models: [{name: a, model_path: org/a, base_port: 5799, replicas: 2}]"),
    [
      "models[0].base_port: ports 5799-5800 overlap proxy.port (5800); give each launched model " +
      "its own base_port",
    ],
  );
  // On SLURM the replicas run on other machines, so equal base ports are fine there.
  const slurm = `
cluster:
  type: slurm
  slurm: {partitions: [{name: gpu}], ssh: {host: login, user: me}}
models:
  - {name: a, model_path: org/a}
  - {name: b, model_path: org/b}
`;
  assert.equal(parseConfig(slurm, "t", noEnv).models.length, 2);
});

Deno.test("duplicate model names and a slurm cluster without its section are reported", () => {
  assert.deepEqual(
    problemsOf(
      "cluster: {type: slurm}\nmodels: [{name: a, endpoints: ['http://h:1']}, " +
        "{name: a, endpoints: ['http://h:2']}]",
    ),
    [
      'cluster.slurm: required when cluster.type is "slurm"',
      'models[1].name: duplicate model name "a"',
    ],
  );
});

Deno.test("TURNPIKE_PORT and TURNPIKE_STATE_DIR override the file", () => {
  const config = parseConfig("proxy: {port: 5800, host: 0.0.0.0}\nstate_dir: here", "t", {
    env: { TURNPIKE_PORT: "7100", TURNPIKE_STATE_DIR: "/var/lib/turnpike" },
  });
  assert.equal(config.proxy.port, 7100);
  assert.equal(config.proxy.host, "0.0.0.0");
  assert.equal(config.state_dir, "/var/lib/turnpike");
  const unset = parseConfig("proxy: {port: 5800}", "t", { env: { TURNPIKE_PORT: "" } });
  assert.equal(unset.proxy.port, 5800, "an empty variable counts as unset");
});

Deno.test("a bad TURNPIKE_PORT is a problem named by the variable, reported with the file's", () => {
  assert.deepEqual(problemsOf("proxy: {port: 0}", { TURNPIKE_PORT: "80a" }), [
    "proxy.port: expected an integer from 1 to 65535, got 0",
    'TURNPIKE_PORT (environment): expected an integer from 1 to 65535, got "80a"; fix or unset it',
  ]);
  assert.deepEqual(problemsOf("", { TURNPIKE_PORT: "99999" }), [
    'TURNPIKE_PORT (environment): expected an integer from 1 to 65535, got "99999"; fix or unset it',
  ]);
});

Deno.test("a bad TURNPIKE_PORT also fails the built-in default", async () => {
  const error = await loadConfig(undefined, { env: { TURNPIKE_PORT: "-1" } }).catch((e) => e);
  assert.ok(error instanceof ConfigError);
  assert.equal(error.source, undefined);
  assert.match(error.message, /^Cannot load the default config:\n {2}TURNPIKE_PORT/);
});

Deno.test("a missing file is a ConfigError that says what to do", async () => {
  const error = await loadConfig("/nonexistent/turnpike.yaml", noEnv).catch((e) => e);
  assert.ok(error instanceof ConfigError);
  assert.equal(
    error.message,
    'Cannot load config "/nonexistent/turnpike.yaml":\n' +
      "  file not found; check the path, or leave out --config for the built-in default",
  );
});

Deno.test("kvPath() puts the KV file inside state_dir and creates the directory", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const stateDir = join(dir, "nested", "state");
    assert.equal(kvPath({ state_dir: stateDir }), join(stateDir, "turnpike.kv"));
    assert.equal((await Deno.stat(stateDir)).isDirectory, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a bad weight inside a weighted strategy is named by its strategy", () => {
  assert.deepEqual(problemsOf("proxy: {strategy: {prefix_aware: -1, least_load: x}}"), [
    "proxy.strategy.prefix_aware: expected a positive number, got -1",
    'proxy.strategy.least_load: expected a positive number, got "x"',
  ]);
});

Deno.test("kvPath names state_dir when the directory cannot be created", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/plain-file`, "");
    assert.throws(() => kvPath({ state_dir: `${dir}/plain-file/state` }), (error: unknown) => {
      assert(error instanceof StateDirError && error instanceof ConfigError);
      assert.match(error.message, /state_dir: cannot create it/);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

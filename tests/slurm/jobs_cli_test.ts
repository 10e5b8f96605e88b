/**
 * `deno task jobs` as a user runs it, as subprocesses, against the real SLURM testbed over its
 * sshd: start alone, status (table and --json), logs, scale, stop, plan, connect with the openai
 * client answered through the tunnels. Every job a test submits is cancelled, also on failure.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import { dropSshConnection, testbed } from "../../cluster/ssh/testing.ts";
import { freePort } from "../../cluster/ports.ts";
import { startGateway } from "../../gateway/mod.ts";
import { loadConfig } from "../../config/mod.ts";
import { readUntil } from "../process_output.ts";
import { waitFor as sharedWaitFor } from "../../actors/runtime/testdata/wait.ts";
import { type CliRun, killGroup, runCli, spawnCli } from "../cli_run.ts";
import { STATUS_COLUMNS } from "../../cluster/jobs/status_table.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const MAIN_TS = `${root}main.ts`;

/** Starts `main.ts jobs ...` in its own process group, with no admin key of the caller's. */
function spawnJobs(
  args: string[],
  env: Record<string, string> = {},
  stderr: "piped" | "inherit" = "piped",
): Deno.ChildProcess {
  return spawnCli(["jobs", ...args], { env: { TURNPIKE_ADMIN_KEY: "", ...env }, stderr });
}

/** Runs `main.ts jobs ...` to its end; its group is killed after `timeoutMs`. */
function jobs(
  args: string[],
  timeoutMs = 240_000,
  env: Record<string, string> = {},
): Promise<CliRun> {
  return runCli(["jobs", ...args], { timeoutMs, env: { TURNPIKE_ADMIN_KEY: "", ...env } });
}

/**
 * Reads a long-running `jobs` command's stdout until `pattern`, then sends Ctrl-C (SIGINT to its
 * group) and answers its exit code; its group is killed whatever happens.
 */
async function interruptWhen(
  child: Deno.ChildProcess,
  pattern: RegExp,
  timeoutMs = 60_000,
): Promise<number> {
  try {
    const reader = child.stdout.getReader();
    await readUntil(reader, pattern, timeoutMs);
    reader.releaseLock();
    killGroup(child.pid, "SIGINT");
    const ended = await Promise.race([
      child.output(),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 30_000)),
    ]);
    assert.ok(ended, "the command did not end on SIGINT");
    assert.equal(ended.code, 0, new TextDecoder().decode(ended.stderr));
    return ended.code;
  } finally {
    killGroup(child.pid, "SIGKILL");
  }
}

/** squeue on the testbed: `jobId name state` of every job whose name contains `tag`. */
async function squeue(tag: string): Promise<{ jobId: string; name: string; state: string }[]> {
  const bed = testbed();
  const output = await new Deno.Command("squeue", {
    args: ["-h", "-t", "PENDING,RUNNING,CONFIGURING,COMPLETING", "-o", "%i|%j|%T"],
    env: { SLURM_CONF: bed.slurmConf },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  return new TextDecoder().decode(output.stdout).split("\n").filter((l) => l.includes(tag))
    .map((line) => {
      const [jobId, name, state] = line.trim().split("|");
      return { jobId: jobId!, name: name!, state: state! };
    });
}

/** The local ports of `pid`'s established TCP connections to `port` on this machine (ss -tnp). */
async function sshClientPorts(pid: number, port: number): Promise<number[]> {
  const output = await new Deno.Command("ss", {
    args: ["-Htnp", "state", "established", `( dport = :${port} )`],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(output.stdout).split("\n")
    .filter((line) => line.includes(`pid=${pid},`))
    .map((line) => Number(/^\S+\s+\S+\s+\S+:(\d+)\s/.exec(line.trim())?.[1]))
    .filter((n) => Number.isInteger(n) && n > 0);
}

/** Cancels every live job whose name carries `tag` (this test's model name). */
async function cancelOurs(tag: string): Promise<void> {
  const ids = (await squeue(tag)).map((j) => j.jobId);
  if (ids.length === 0) return;
  await new Deno.Command("scancel", {
    args: ids,
    env: { SLURM_CONF: testbed().slurmConf },
    stdout: "null",
    stderr: "null",
  }).output();
}

function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 180_000,
): Promise<T> {
  return sharedWaitFor(what, probe, { timeoutMs, everyMs: 1000, retryErrors: true });
}

interface Setup {
  dir: string;
  file: string;
  /** The model's name: distinctive, so its jobs are this test's. */
  model: string;
  gatewayPort: number;
}

/** A config on the testbed over its sshd, with a model whose replicas run the simulator. */
async function withSetup(
  fn: (setup: Setup) => Promise<void>,
  extra: { auth?: string; replicas?: number; modelLines?: string[] } = {},
): Promise<void> {
  const bed = testbed();
  const dir = await Deno.makeTempDir({ prefix: "turnpike-jobs-cli-" });
  const model = `c2sim${crypto.randomUUID().slice(0, 6)}`;
  const gatewayPort = freePort();
  const basePort = freePort();
  const yaml = [
    `proxy: { port: ${gatewayPort}, health_check_interval: 1 }`,
    "cluster:",
    "  type: slurm",
    "  slurm:",
    "    partitions:",
    "      - { name: gpu_a, account: testacct, qos: normal, gpus_per_node: 4, priority: 10 }",
    `    ssh: { host: ${bed.host}, port: ${bed.port}, user: ${bed.user}, key: ${bed.key}, known_hosts: ${bed.knownHosts} }`,
    "    poll_interval: 1",
    "    backoff: { initial: 1, max: 5 }",
    `    job_dir: ${dir}/jobs`,
    "models:",
    `  - name: ${model}`,
    `    replicas: ${extra.replicas ?? 1}`,
    `    base_port: ${basePort}`,
    `    command: "${Deno.execPath()} run -A ${MAIN_TS} sim --port {port} --model {name} --time-scale 20 --tokenizer approx"`,
    "    startup_timeout: 180",
    '    time: "00:30:00"',
    ...(extra.modelLines ?? []).map((line) => `    ${line}`),
    ...(extra.auth === undefined ? [] : [extra.auth]),
    `state_dir: ${dir}/state`,
  ].join("\n");
  const file = `${dir}/turnpike.yaml`;
  await Deno.writeTextFile(file, yaml);
  try {
    await fn({ dir, file, model, gatewayPort });
  } finally {
    await cancelOurs(model);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test({
  name: "jobs start alone submits a named job; status, logs, scale and stop drive it on SLURM",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withSetup(async ({ file, model }) => {
      const started = await jobs(["start", "--config", file]);
      assert.equal(started.code, 0, `${started.stdout}\n${started.stderr}`);
      assert.match(started.stderr, /in this process/);
      const queued = await squeue(model);
      assert.equal(queued.length, 1, JSON.stringify(queued));
      assert.ok(queued[0]!.name.includes(model), queued[0]!.name);
      const jobId = queued[0]!.jobId;
      assert.match(started.stdout, new RegExp(`^${model}\\s+0\\s+${jobId}\\s`, "m"));

      const table = await jobs(["status", "--config", file]);
      assert.equal(table.code, 0, table.stderr);
      const lines = table.stdout.trim().split("\n");
      assert.deepEqual(lines[0]!.split(/\s+/), [...STATUS_COLUMNS]);
      assert.match(lines[1]!, new RegExp(`^${model}\\s+0\\s+${jobId}\\s+gpu_a\\s`));

      const watch = spawnJobs(["status", "--watch", "--interval", "0.5", "--config", file]);
      assert.equal(await interruptWhen(watch, /MODEL[^]*MODEL/), 0);

      const json = await jobs(["status", "--config", file, "--json"]);
      assert.equal(json.code, 0, json.stderr);
      const rows = JSON.parse(json.stdout);
      assert.equal(rows.length, 1);
      assert.equal(rows[0].model, model);
      assert.equal(rows[0].jobId, jobId);
      assert.equal(rows[0].kind, "slurm");

      // The simulator prints its address once it listens: logs shows the job's own output.
      const logged = await waitFor("the simulator's output in jobs logs", async () => {
        const run = await jobs(["logs", jobId, "--config", file], 60_000);
        return run.code === 0 && /listening|http:\/\//i.test(run.stdout) ? run : undefined;
      });
      assert.ok(logged.stdout.length > 0);
      const byReplica = await jobs(["logs", `${model}/0`, "--config", file], 60_000);
      assert.equal(byReplica.code, 0, byReplica.stderr);
      assert.equal(byReplica.stdout.slice(0, 40), logged.stdout.slice(0, 40));

      // Once the simulator has written its output the job runs: status shows it on its node.
      const fresh = JSON.parse((await jobs(["status", "--config", file, "--json"])).stdout);
      assert.equal(fresh[0].slurmState, "RUNNING", JSON.stringify(fresh));
      assert.equal(fresh[0].node, "localhost");
      assert.ok(["running", "healthy"].includes(fresh[0].phase), fresh[0].phase);

      // --follow keeps printing until Ctrl-C, which ends it cleanly (exit 0).
      const follow = spawnJobs(["logs", jobId, "--follow", "--config", file]);
      assert.equal(await interruptWhen(follow, /listening|http:\/\//i), 0);

      const scaled = await jobs(["scale", model, "2", "--config", file]);
      assert.equal(scaled.code, 0, scaled.stderr);
      await waitFor("a second job in squeue", async () => {
        const now = await squeue(model);
        return now.length === 2 ? now : undefined;
      });

      const stopped = await jobs(["stop", "--config", file]);
      assert.equal(stopped.code, 0, `${stopped.stdout}\n${stopped.stderr}`);
      await waitFor("squeue to show none of the jobs", async () => {
        const now = await squeue(model);
        return now.length === 0 ? true : undefined;
      }, 60_000);
    });
  },
});

Deno.test({
  name: "jobs connect runs a gateway whose backends are tunnels to the running replicas",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withSetup(async ({ file, model }) => {
      const started = await jobs(["start", "--config", file, "--wait"]);
      assert.equal(started.code, 0, `${started.stdout}\n${started.stderr}`);
      const child = spawnJobs(["connect", "--config", file], {}, "inherit");
      const reader = child.stdout.getReader();
      try {
        const printed = await readUntil(reader, /Connected .*\n/, 120_000);
        const url = /listening on (http:\/\/\S+)/.exec(printed)?.[1];
        assert.ok(url, printed);
        const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 });
        const ask = (what: string, content: string) =>
          waitFor(what, async () => {
            const reply = await client.chat.completions.create({
              model,
              messages: [{ role: "user", content }],
              max_tokens: 8,
            });
            return reply.choices[0]?.message.content ? reply : undefined;
          }, 90_000);
        const answer = await ask("an answer through jobs connect", "Hello through the tunnel");
        assert.equal(answer.model, model);

        // The SSH connection under the tunnels dropped (sshd's side killed): connect reconnects
        // and the gateway answers again through the same tunnel.
        const bed = testbed();
        const localPorts = await sshClientPorts(child.pid, bed.port);
        assert.ok(localPorts.length > 0, "connect holds no SSH connection to the testbed");
        let dropped = 0;
        for (const port of localPorts) dropped += await dropSshConnection(port, bed.port);
        assert.ok(dropped > 0);
        const again = await ask("an answer after the SSH connection dropped", "Hello again");
        assert.equal(again.model, model);
      } finally {
        killGroup(child.pid, "SIGTERM");
        await Promise.race([
          child.status,
          new Promise((resolve) => setTimeout(resolve, 15_000)),
        ]);
        killGroup(child.pid, "SIGKILL");
        await reader.cancel().catch(() => {});
        await child.status;
      }
    });
  },
});

Deno.test({
  name:
    "jobs through a running gateway: the admin key is sent, and without it the refusal says how",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // The gateway reads its admin key from this variable; the CLI runs with it blank.
    const variable = `C2_TEST_ADMIN_KEY_${crypto.randomUUID().slice(0, 8).replaceAll("-", "")}`;
    const adminKey = "c2-admin-key-0123456789";
    Deno.env.set(variable, adminKey);
    try {
      await withSetup(async ({ file, model }) => {
        const config = await loadConfig(file);
        const gateway = await startGateway(config);
        try {
          const refused = await jobs(["status", "--config", file], 120_000, { [variable]: "" });
          assert.equal(refused.code, 1, refused.stdout);
          assert.match(
            refused.stderr,
            /has auth on and refused GET \/api\/jobs: deno task jobs needs its admin key; set TURNPIKE_ADMIN_KEY or pass --admin-key KEY \(it answered 401/,
          );
          assert.doesNotMatch(refused.stderr, /^\s+at /m);
          const wrong = await jobs(
            ["status", "--config", file, "--admin-key", "not-the-admin-key-at-all"],
            120_000,
            { [variable]: "" },
          );
          assert.equal(wrong.code, 1, wrong.stdout);
          assert.match(
            wrong.stderr,
            /refused the admin key given for GET \/api\/jobs \(it answered 40[13]/,
          );
          const allowed = await jobs(
            ["status", "--config", file, "--json", "--admin-key", adminKey],
            120_000,
            { [variable]: "" },
          );
          assert.equal(allowed.code, 0, allowed.stderr);
          const rows = JSON.parse(allowed.stdout);
          assert.ok(Array.isArray(rows));
          for (const row of rows) assert.equal(row.model, model);
          const viaEnv = await jobs(["status", "--config", file], 120_000, {
            [variable]: "",
            TURNPIKE_ADMIN_KEY: adminKey,
          });
          assert.equal(viaEnv.code, 0, viaEnv.stderr);
          assert.match(viaEnv.stdout, /^MODEL\s+REPLICA/);

          // connect would be a second gateway on the same port: it says so instead.
          const beside = await jobs(["connect", "--config", file], 120_000, { [variable]: "" });
          assert.equal(beside.code, 1, beside.stdout);
          assert.match(
            beside.stderr,
            /A gateway already answers on http:\/\/127\.0\.0\.1:\d+.*--port/,
          );

          // start and stop go through the gateway too: its actors own the jobs.
          const key = ["--admin-key", adminKey];
          const started = await jobs(["start", "--config", file, ...key], 240_000, {
            [variable]: "",
          });
          assert.equal(started.code, 0, `${started.stdout}\n${started.stderr}`);
          assert.match(started.stderr, /through the gateway at http:\/\/127\.0\.0\.1:/);
          assert.equal((await squeue(model)).length, 1);
          const stopped = await jobs(["stop", model, "--config", file, ...key], 240_000, {
            [variable]: "",
          });
          assert.equal(stopped.code, 0, `${stopped.stdout}\n${stopped.stderr}`);
          assert.match(stopped.stderr, /through the gateway/);
          await waitFor("squeue to show none of the gateway's jobs", async () => {
            return (await squeue(model)).length === 0 ? true : undefined;
          }, 60_000);
        } finally {
          await gateway.close({ deadlineMs: 1000 });
        }
      }, { auth: `auth: { enabled: true, admin_key_env: ${variable} }` });
    } finally {
      Deno.env.delete(variable);
    }
  },
});

Deno.test({
  name: "jobs status shows a local gateway's launched replicas through its /api/jobs",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "turnpike-jobs-cli-local-gw-" });
    try {
      const file = `${dir}/local.yaml`;
      await Deno.writeTextFile(
        file,
        [
          `proxy: { port: ${freePort()}, health_check_interval: 1 }`,
          "models:",
          "  - name: c2local",
          "    replicas: 1",
          `    base_port: ${freePort()}`,
          `    command: "${Deno.execPath()} run -A ${MAIN_TS} sim --port {port} --model {name}"`,
          "    startup_timeout: 120",
          `state_dir: ${dir}/state`,
        ].join("\n"),
      );
      const gateway = await startGateway(await loadConfig(file));
      try {
        const rows = await waitFor("the local replica healthy in jobs status", async () => {
          const run = await jobs(["status", "--config", file, "--json"], 60_000);
          assert.equal(run.code, 0, run.stderr);
          const parsed = JSON.parse(run.stdout);
          return parsed[0]?.phase === "healthy" ? parsed : undefined;
        }, 120_000);
        assert.equal(rows.length, 1);
        assert.equal(rows[0].model, "c2local");
        assert.equal(rows[0].kind, "local");
        const table = await jobs(["status", "--config", file], 60_000);
        assert.match(
          table.stdout,
          /^c2local\s+0\s+\d+\s+-\s+localhost\s+healthy\s+\S+\s+http:\/\/127\.0\.0\.1:\d+\s+healthy$/m,
        );
      } finally {
        await gateway.close({ deadlineMs: 1000 });
      }
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "jobs plan prints the sbatch script and submits nothing",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withSetup(async ({ file, model }) => {
      const planned = await jobs(["plan", "--config", file]);
      assert.equal(planned.code, 0, `${planned.stdout}\n${planned.stderr}`);
      assert.match(planned.stdout, /#SBATCH/);
      assert.ok(planned.stdout.includes(model));
      assert.deepEqual(await squeue(model), []);
    });
  },
});

Deno.test({
  name:
    "jobs refuses an unknown subcommand, flag or model with its usage (exit 2), and local alone",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const unknown = await jobs(["launch"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Unknown command "launch"/);
    assert.match(unknown.stderr, /Usage: deno task jobs/);
    const flag = await jobs(["status", "--bogus"]);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /Usage: deno task jobs status/);
    const help = await jobs(["scale", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: deno task jobs scale MODEL N/);
    await withSetup(async ({ file, model }) => {
      const unknown = await jobs(["scale", `${model}-typo`, "2", "--config", file]);
      assert.equal(unknown.code, 2);
      assert.match(
        unknown.stderr,
        new RegExp(`Unknown model "${model}-typo"; the config's models: ${model}`),
      );
      // Out of the model's autoscale bounds: the job actors refuse it before anything is submitted.
      const bounded = await jobs(["scale", model, "5", "--config", file]);
      assert.equal(bounded.code, 2, bounded.stdout);
      assert.match(bounded.stderr, /5 replicas is outside .*autoscale bounds 1-2/);
      assert.doesNotMatch(bounded.stderr, /^\s+at /m);
      assert.deepEqual(await squeue(model), []);
    }, { modelLines: ["autoscale: { min: 1, max: 2 }"] });
    // cluster.type local: the replicas are the gateway's own processes, so with none running there
    // is nothing to drive alone.
    const dir = await Deno.makeTempDir({ prefix: "turnpike-jobs-cli-local-" });
    try {
      await Deno.writeTextFile(
        `${dir}/local.yaml`,
        `proxy: { port: ${freePort()} }\nstate_dir: ${dir}/state\n`,
      );
      const local = await jobs(["status", "--config", `${dir}/local.yaml`]);
      assert.equal(local.code, 1, local.stdout);
      assert.match(local.stderr, /cluster\.type is "local".*`deno task serve` starts them/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

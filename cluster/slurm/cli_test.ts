/** CliSlurm against the real SLURM testbed: through a LocalShell, and over the testbed's sshd. */
import assert from "node:assert/strict";
import { waitFor } from "../../actors/runtime/testdata/wait.ts";
import { fileURLToPath } from "node:url";
import { ModelSchema } from "../../config/schema.ts";
import { PartitionSchema } from "../../config/slurm_schema.ts";
import { LocalShell } from "../local_shell.ts";
import { freePort } from "../ports.ts";
import { SshShell } from "../ssh/shell.ts";
import { testbed, testbedSsh } from "../ssh/testing.ts";
import { CliSlurm, SlurmCommandError } from "./cli.ts";
import { newSubmitKey, renderSbatch } from "./render.ts";
import type { JobInfo } from "./types.ts";

/** Waits for a SLURM or job condition: the testbed on a loaded machine may take a while. */
const until = <T>(what: string, check: () => Promise<T | undefined | false>) =>
  waitFor(what, check, { timeoutMs: 120_000, everyMs: 500 });

const bed = testbed();
const localShell = () => new LocalShell({ env: { SLURM_CONF: bed.slurmConf } });

/** A plain batch script named tprec-cli-<what>, its output under `dir`. */
function plainScript(what: string, dir: string, body: string): string {
  return `#!/bin/bash\n#SBATCH --job-name=tprec-cli-${what}\n#SBATCH --output=${dir}/${what}.log\n` +
    `#SBATCH --gres=gpu:1\n${body}\n`;
}

Deno.test({
  name:
    "CliSlurm over a LocalShell: submit a simulator replica, find it, read its log, signal, cancel",
  sanitizeResources: false,
  async fn() {
    const shell = localShell();
    const slurm = new CliSlurm(shell);
    const dir = await Deno.makeTempDir({ prefix: "tp-cli-test-" });
    const main = fileURLToPath(new URL("../../main.ts", import.meta.url));
    const port = freePort();
    const job = renderSbatch({
      model: ModelSchema.parse({
        name: "cli-test",
        model_path: "org/m",
        command: `${Deno.execPath()} run -A ${main} sim --port {port} --model {name}`,
        time: "10",
      }),
      replica: 0,
      partition: PartitionSchema.parse({ name: "gpu_b" }),
      key: newSubmitKey(),
      // A directory sbatch does not have yet: submit makes it.
      jobDir: `${dir}/nested/jobs`,
      signalLead: 60,
      port,
    });
    if (!job.ok) assert.fail(job.reason);
    let jobId: string | undefined;
    try {
      // The request's overrides win over the script's #SBATCH lines.
      const submitted = await slurm.submit({
        script: job.script,
        partition: "gpu_a",
        qos: "normal",
        account: "testacct",
      });
      assert.ok(submitted.ok, submitted.ok ? "" : submitted.error);
      jobId = submitted.jobId;
      const running = await until("the job running", async () => {
        const [info] = await slurm.queue({ jobIds: [jobId!] });
        assert.ok(info, "squeue lists the job it just took");
        assert.ok(info.state === "PENDING" || info.state === "RUNNING", info.state);
        return info.state === "RUNNING" ? info : undefined;
      });
      assert.equal(running.name, job.name);
      assert.equal(running.partition, "gpu_a");
      assert.equal(running.node, "localhost");
      assert.equal(running.timeLimitSeconds, 600);
      assert.ok(running.startTime instanceof Date);
      const byName = await slurm.queue({ names: [job.name] });
      assert.deepEqual(byName.map((j) => j.jobId), [jobId]);
      assert.deepEqual(await slurm.queue({ names: ["tp.nobody.0.x"] }), []);

      await until("the replica's /health", () =>
        fetch(`http://127.0.0.1:${port}/health`).then(
          (r) => r.body?.cancel().then(() => r.status === 200),
          () => false,
        ));
      const log = await until("the replica's first log line", async () => {
        const text = await slurm.readFile(job.errorPath);
        return text.includes("turnpike: job") ? text : undefined;
      });
      assert.match(log, new RegExp(`turnpike: job ${jobId} replica cli-test/0 on `));
      const skip = new TextEncoder().encode("turnpike: job").length;
      assert.equal(await slurm.readFile(job.errorPath, skip), log.slice("turnpike: job".length));

      await slurm.cancel(jobId, { signal: "USR1" });
      await until(
        "the USR1 note in the log",
        async () => (await slurm.readFile(job.errorPath)).includes("(USR1); still serving"),
      );
      assert.equal((await slurm.queue({ jobIds: [jobId] }))[0]?.state, "RUNNING");

      await slurm.cancel(jobId);
      const cancelled = await until("the job cancelled in squeue", async () => {
        const [info] = await slurm.queue({ jobIds: [jobId!] });
        return info?.state === "CANCELLED" ? info : undefined;
      });
      assert.ok(cancelled.endTime instanceof Date);
      // sacct lags a few seconds behind squeue: poll it.
      const accounted = await until("the job cancelled in sacct", async () => {
        const [info] = await slurm.accounting([jobId!]);
        return info?.state === "CANCELLED" ? info : undefined;
      });
      assert.equal(accounted.exitCode, "0:0");
      await slurm.cancel(jobId);
      jobId = undefined;
    } finally {
      if (jobId) await slurm.cancel(jobId).catch(() => {});
      await slurm.close();
      await shell.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test("CliSlurm keeps sbatch's refusal verbatim, and reads a failed job's exit code", async () => {
  const shell = localShell();
  const slurm = new CliSlurm(shell);
  const dir = await Deno.makeTempDir({ prefix: "tp-cli-test-" });
  let jobId: string | undefined;
  try {
    const refused = await slurm.submit({
      script: plainScript("refused", dir, "true"),
      qos: "nosuchqos",
    });
    assert.deepEqual(refused, {
      ok: false,
      error: "sbatch: error: Batch job submission failed: Invalid qos specification",
    });
    const failing = await slurm.submit({ script: plainScript("exit3", dir, "exit 3") });
    assert.ok(failing.ok, failing.ok ? "" : failing.error);
    jobId = failing.jobId;
    const failed: JobInfo = await until("the job failed in sacct", async () => {
      const [info] = await slurm.accounting([jobId!]);
      return info?.state === "FAILED" ? info : undefined;
    });
    assert.equal(failed.exitCode, "3:0");
    assert.equal(failed.name, "tprec-cli-exit3");
    assert.deepEqual(await slurm.accounting([]), []);
    assert.equal(await slurm.readFile(`${dir}/never-written.log`), "");
    assert.equal(await slurm.home(), Deno.env.get("HOME"));
    await assert.rejects(slurm.cancel("not-a-job"), SlurmCommandError);
  } finally {
    if (jobId) await slurm.cancel(jobId).catch(() => {});
    await shell.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test({
  name: "CliSlurm over SSH to the testbed's login node: submit, queue, accounting, cancel",
  sanitizeResources: false,
  async fn() {
    const shell = new SshShell(testbedSsh(), { connectAttempts: 3 });
    const slurm = new CliSlurm(shell);
    const dir = `/tmp/tp-cli-ssh-${newSubmitKey()}`;
    let jobId: string | undefined;
    try {
      assert.match(slurm.where, /127\.0\.0\.1:2222/);
      const submitted = await slurm.submit({ script: plainScript("ssh", dir, "sleep 120") });
      assert.ok(submitted.ok, submitted.ok ? "" : submitted.error);
      jobId = submitted.jobId;
      const running = await until("the job running", async () => {
        const [info] = await slurm.queue({ jobIds: [jobId!] });
        return info?.state === "RUNNING" ? info : undefined;
      });
      assert.equal(running.name, "tprec-cli-ssh");
      assert.equal(running.node, "localhost");
      await slurm.cancel(jobId);
      const accounted = await until("the job cancelled in sacct", async () => {
        const [info] = await slurm.accounting([jobId!]);
        return info?.state === "CANCELLED" ? info : undefined;
      });
      assert.equal(accounted.partition, "gpu_a");
      assert.equal(await slurm.home(), "/root");
      jobId = undefined;
    } finally {
      if (jobId) await slurm.cancel(jobId).catch(() => {});
      await shell.exec(["rm", "-rf", "--", dir]).catch(() => {});
      await shell.close();
    }
  },
});

Deno.test("CliSlurm.submit() rejects when slurmctld does not answer: the job's fate is unknown", async () => {
  // The testbed's own config with the controller's port moved to one nothing listens on.
  const dir = await Deno.makeTempDir({ prefix: "tp-cli-conf-" });
  const conf = (await Deno.readTextFile(bed.slurmConf)).replace(
    /^SlurmctldPort=\d+$/m,
    `SlurmctldPort=${freePort()}`,
  );
  await Deno.writeTextFile(`${dir}/slurm.conf`, conf);
  await Deno.copyFile(bed.slurmConf.replace(/slurm\.conf$/, "gres.conf"), `${dir}/gres.conf`);
  const shell = new LocalShell({ env: { SLURM_CONF: `${dir}/slurm.conf` } });
  try {
    const slurm = new CliSlurm(shell);
    await assert.rejects(
      slurm.submit({ script: plainScript("unreachable", dir, "true") }),
      (error: unknown) => {
        assert.ok(error instanceof SlurmCommandError);
        assert.match(error.message, /Unable to contact slurm controller/);
        return true;
      },
    );
  } finally {
    await shell.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * RestSlurm against a real slurmrestd (SLURM 22.05, v0.0.38) of the testbed, on a unix socket with
 * rest_auth/local: the shared slurmctld has no auth/jwt, so this path runs without a token (the
 * token headers are tested against recorded answers in rest_test.ts).
 */
import assert from "node:assert/strict";
import { waitFor } from "../../actors/runtime/testdata/wait.ts";
import { SshShell } from "../ssh/shell.ts";
import { testbedSsh } from "../ssh/testing.ts";
import { RestSlurm } from "./rest.ts";
import { startSlurmrestd } from "./rest/testing.ts";

Deno.test("RestSlurm submits, lists, reads, cancels and finds in accounting a job on a live slurmrestd", async () => {
  const restd = await startSlurmrestd();
  const shell = new SshShell(testbedSsh());
  const slurm = new RestSlurm({ url: "http://localhost", user: "nobody" }, shell, {
    unixSocket: restd.socket,
  });
  const name = `tprest-live-${crypto.randomUUID().slice(0, 8)}`;
  const ids: string[] = [];
  try {
    assert.equal(await slurm.version(), "v0.0.38");
    const script = `#!/bin/bash
#SBATCH --job-name=${name}
#SBATCH --partition=gpu_b
#SBATCH --account=testacct
#SBATCH --time=00:03:00
#SBATCH --gres=gpu:1
#SBATCH --output=${restd.dir}/%j.out
echo "ready on $(hostname) with CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES"
sleep 120
`;
    const submitted = await slurm.submit({ script, partition: "gpu_a", qos: "normal" });
    assert.ok(submitted.ok, JSON.stringify(submitted));
    ids.push(submitted.jobId);

    const running = await waitFor("the job to run", async () => {
      const [job] = await slurm.queue({ names: [name] });
      return job?.state === "RUNNING" && job;
    }, { timeoutMs: 60_000, everyMs: 500 });
    assert.equal(running.jobId, submitted.jobId);
    // The #SBATCH lines reached slurmctld as properties: name, limit, partition override.
    assert.equal(running.timeLimitSeconds, 180);
    assert.equal(running.partition, "gpu_a");
    assert.equal(running.node, "localhost");

    const output = `${restd.dir}/${submitted.jobId}.out`;
    const text = await waitFor("the job's output", async () => {
      const read = await slurm.readFile(output).catch(() => "");
      return read.includes("ready") && read;
    }, { timeoutMs: 30_000, everyMs: 500 });
    assert.match(text, /^ready on \S+ with CUDA_VISIBLE_DEVICES=\d/);

    const refused = await slurm.submit({ script, qos: "nosuchqos" });
    assert.deepEqual(refused, { ok: false, error: "Invalid qos specification" });

    await slurm.cancel(submitted.jobId);
    await waitFor("the job to end", async () => {
      const [job] = await slurm.queue({ jobIds: [submitted.jobId] });
      return job?.state === "CANCELLED";
    }, { timeoutMs: 30_000, everyMs: 500 });
    const [accounted] = await waitFor("slurmdbd to record the end", async () => {
      const jobs = await slurm.accounting([submitted.jobId]);
      return jobs[0]?.state === "CANCELLED" && jobs;
    }, { timeoutMs: 60_000, everyMs: 1000 });
    assert.equal(accounted?.name, name);
    assert.equal(accounted?.partition, "gpu_a");
  } finally {
    for (const id of ids) await slurm.cancel(id).catch(() => {});
    await slurm.close();
    await shell.close();
    await restd.close();
  }
});

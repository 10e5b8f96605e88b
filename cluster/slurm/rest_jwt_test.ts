/**
 * RestSlurm with JWT auth against a real slurmrestd (`rest_auth/jwt`) in front of a private
 * slurmctld with `auth/jwt`, tokens from a real `scontrol token` run through LocalShell. The
 * private cluster has no slurmd (jobs stay PENDING) and no slurmdbd (no accounting).
 */
import assert from "node:assert/strict";
import { waitFor } from "../../actors/runtime/testdata/wait.ts";
import { LocalShell } from "../local_shell.ts";
import { RestSlurm } from "./rest.ts";
import { startJwtCluster } from "./rest/testing.ts";

Deno.test("RestSlurm authenticates with scontrol token's JWTs, refreshes them, and submits, lists and cancels", async () => {
  const cluster = await startJwtCluster();
  const shell = new LocalShell({ env: { SLURM_CONF: cluster.slurmConf } });
  let clock = Date.now();
  const slurm = new RestSlurm(
    {
      url: cluster.url,
      user: "nobody",
      token_command: "scontrol token lifespan=600 username=nobody",
    },
    shell,
    { now: () => clock },
  );
  const name = `tpjwt-${crypto.randomUUID().slice(0, 8)}`;
  try {
    assert.equal(await slurm.version(), "v0.0.38");
    assert.equal(slurm.tokenFetches, 1);
    const submitted = await slurm.submit({
      script:
        `#!/bin/bash\n#SBATCH --job-name=${name}\n#SBATCH --time=5\n#SBATCH --output=/tmp/%j.out\ntrue\n`,
    });
    assert.ok(submitted.ok, JSON.stringify(submitted));
    const [pending] = await slurm.queue({ names: [name] });
    assert.equal(pending?.jobId, submitted.jobId);
    assert.equal(pending?.state, "PENDING");
    assert.equal(pending?.timeLimitSeconds, 300);

    // Past four fifths of the token's life: the next call runs scontrol token again.
    clock += 590_000;
    assert.equal((await slurm.queue({ names: [name] })).length, 1);
    assert.equal(slurm.tokenFetches, 2);

    await slurm.cancel(submitted.jobId);
    await waitFor("the job to be cancelled", async () => {
      const [job] = await slurm.queue({ jobIds: [submitted.jobId] });
      return job?.state === "CANCELLED";
    }, { timeoutMs: 30_000, everyMs: 500 });
  } finally {
    await slurm.close();
    await shell.close();
    await cluster.close();
  }
});

Deno.test("RestSlurm says when slurmrestd wants a token, and passes on its refusal of a bad one", async () => {
  const cluster = await startJwtCluster();
  const shell = new LocalShell({ env: { SLURM_CONF: cluster.slurmConf } });
  const none = new RestSlurm({ url: cluster.url, user: "nobody" }, shell);
  const bad = new RestSlurm({ url: cluster.url, user: "nobody", token: "not.a.jwt" }, shell);
  try {
    await assert.rejects(
      none.version(),
      /slurmrestd at http:\/\/127\.0\.0\.1:\d+ wants a token \(401\): set cluster\.slurm\.rest\.token or token_command/,
    );
    // slurmrestd passes the token on; slurmctld's refusal comes back as a failed query.
    await assert.rejects(
      bad.queue(),
      /slurmrestd GET \/slurm\/v0\.0\.38\/jobs answered 500: Unspecified error: Failed while looking for jobs/,
    );
  } finally {
    await none.close();
    await bad.close();
    await shell.close();
    await cluster.close();
  }
});

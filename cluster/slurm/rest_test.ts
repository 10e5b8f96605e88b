/**
 * RestSlurm against a local server replaying slurmrestd 22.05's recorded answers
 * (testdata/rest/, from record.sh on the testbed); token_command runs over the testbed's sshd.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { SignJWT } from "jose";
import { SshShell } from "../ssh/shell.ts";
import { testbedSsh } from "../ssh/testing.ts";
import { RestSlurm } from "./rest.ts";
import { recorded, type ReplayAnswer, type SeenRequest, startReplay } from "./rest/testing.ts";

const cases = recorded("cases.json") as Record<string, string>;
const V38 = "/slurm/v0.0.38";
const DB38 = "/slurmdb/v0.0.38";

const SCRIPT = `#!/bin/bash
#SBATCH --job-name=tp-m-r0-k1
#SBATCH --partition=gpu_a
#SBATCH --qos=normal
#SBATCH -A testacct
#SBATCH --time=00:02:00
#SBATCH --gres=gpu:1
#SBATCH --output=/scratch/jobs/%j.out
#SBATCH --signal=B:USR1@300
#SBATCH --open-mode=append
echo start
#SBATCH --time=99:00:00
`;

function routes(
  extra: Record<string, ReplayAnswer | ((seen: SeenRequest) => ReplayAnswer)> = {},
) {
  return {
    "GET /openapi/v3": { file: "openapi_paths.json" },
    [`POST ${V38}/job/submit`]: { file: "submit_ok.json" },
    [`GET ${V38}/jobs`]: { file: "jobs.json" },
    [`GET ${DB38}/job/${cases.completes}`]: { file: "db_job_completed.json" },
    [`GET ${DB38}/job/${cases.fails}`]: { file: "db_job_failed.json" },
    [`GET ${DB38}/job/${cases.running}`]: { file: "db_job_cancelled.json" },
    [`GET ${DB38}/job/999999999`]: { file: "db_job_unknown.json", status: 500 },
    [`DELETE ${V38}/job/${cases.running}`]: { file: "cancel.json" },
    ...extra,
  };
}

async function withRest(
  server: ReturnType<typeof startReplay>,
  body: (slurm: RestSlurm, shell: SshShell) => Promise<void>,
  config: { token?: string; token_command?: string; user?: string } = { token: "t0k3n" },
  now?: () => number,
): Promise<void> {
  const shell = new SshShell(testbedSsh());
  const slurm = new RestSlurm(
    { url: server.url, user: config.user ?? "nobody", ...config },
    shell,
    now ? { now } : {},
  );
  try {
    await body(slurm, shell);
  } finally {
    await slurm.close();
    await shell.close();
    await server.close();
  }
}

Deno.test("RestSlurm picks v0.0.38 from 22.05's OpenAPI document and sends the user and token", async () => {
  const server = startReplay(routes());
  await withRest(server, async (slurm) => {
    assert.equal(await slurm.version(), "v0.0.38");
    await slurm.queue();
    const [openapi, jobs] = server.seen;
    assert.equal(openapi?.path, "/openapi/v3");
    assert.equal(jobs?.path, `${V38}/jobs`);
    assert.equal(jobs?.headers.get("x-slurm-user-name"), "nobody");
    assert.equal(jobs?.headers.get("x-slurm-user-token"), "t0k3n");
    assert.equal(server.seen.filter((s) => s.path === "/openapi/v3").length, 1);
  });
});

Deno.test("RestSlurm picks the newest version both sides speak, and names the ones offered when none", async () => {
  const paths = (versions: string[]) => ({
    json: { paths: Object.fromEntries(versions.map((v) => [`/slurm/${v}/job/submit`, {}])) },
  });
  const newer = startReplay({
    "GET /openapi/v3": paths(["v0.0.40", "v0.0.41", "v0.0.42", "v0.0.45"]),
  });
  await withRest(newer, async (slurm) => assert.equal(await slurm.version(), "v0.0.42"));
  const older = startReplay({ "GET /openapi": paths(["v0.0.36", "v0.0.37"]) });
  await withRest(older, async (slurm) => {
    await assert.rejects(
      slurm.version(),
      /offers API v0\.0\.36, v0\.0\.37; turnpike speaks v0\.0\.38 and v0\.0\.40 to v0\.0\.44: use cluster\.slurm\.api: cli/,
    );
  });
});

Deno.test("RestSlurm submits the #SBATCH lines as job properties, with the request's overrides", async () => {
  const server = startReplay(routes());
  await withRest(server, async (slurm) => {
    const result = await slurm.submit({ script: SCRIPT, partition: "gpu_b", qos: "high" });
    assert.deepEqual(result, { ok: true, jobId: cases.running });
    const submit = server.seen.find((s) => s.method === "POST");
    assert.deepEqual(submit?.body, {
      script: SCRIPT,
      job: {
        name: "tp-m-r0-k1",
        partition: "gpu_b",
        qos: "high",
        account: "testacct",
        time_limit: 2,
        gres: "gpu:1",
        standard_output: "/scratch/jobs/%j.out",
        current_working_directory: "/scratch/jobs",
        signal: "B:USR1@300",
        open_mode: "append",
        environment: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
      },
    });
  });
});

Deno.test("RestSlurm returns slurmctld's own refusal text, and a held job's id", async () => {
  const refusals: Record<string, string> = {
    "submit_bad_qos.json": "Invalid qos specification",
    "submit_bad_partition.json": "Invalid partition name specified",
  };
  for (const [file, text] of Object.entries(refusals)) {
    const server = startReplay(routes({ [`POST ${V38}/job/submit`]: { file, status: 500 } }));
    await withRest(server, async (slurm) => {
      assert.deepEqual(await slurm.submit({ script: SCRIPT }), { ok: false, error: text });
    });
  }
  const held = startReplay(routes({ [`POST ${V38}/job/submit`]: { file: "submit_held.json" } }));
  await withRest(held, async (slurm) => {
    assert.deepEqual(await slurm.submit({ script: SCRIPT }), { ok: true, jobId: cases.held });
  });
});

Deno.test("RestSlurm refuses a #SBATCH option it cannot pass on, before sending anything", async () => {
  const server = startReplay(routes());
  await withRest(server, async (slurm) => {
    await assert.rejects(
      slurm.submit({ script: "#!/bin/bash\n#SBATCH --mail-type=ALL\ntrue\n" }),
      /#SBATCH --mail-type has no slurmrestd field turnpike passes on; use cluster\.slurm\.api: cli/,
    );
    assert.equal(server.seen.some((s) => s.method === "POST"), false);
  });
});

Deno.test("RestSlurm.queue() parses every recorded state and filters by user, ids and names", async () => {
  const server = startReplay(routes());
  await withRest(server, async (slurm) => {
    const jobs = await slurm.queue();
    const byName = Object.fromEntries(jobs.map((job) => [job.name, job]));
    assert.equal(byName["tprest-running"]?.state, "CANCELLED");
    assert.equal(byName["tprest-running"]?.node, "localhost");
    assert.equal(byName["tprest-running"]?.timeLimitSeconds, 120);
    assert.equal(byName["tprest-held"]?.state, "CANCELLED");
    assert.equal(byName["tprest-fails"]?.state, "FAILED");
    assert.equal(byName["tprest-fails"]?.reason, "NonZeroExitCode");
    assert.equal(byName["tprest-fails"]?.exitCode, "3:0");
    assert.equal(byName["tprest-completes"]?.state, "COMPLETED");
    assert.equal(byName["tprest-completes"]?.exitCode, "0:0");
    assert.ok(byName["tprest-completes"]?.startTime instanceof Date);
    assert.deepEqual(
      (await slurm.queue({ jobIds: [cases.fails!] })).map((j) => j.name),
      ["tprest-fails"],
    );
    assert.deepEqual(
      (await slurm.queue({ names: ["tprest-completes", "other"] })).map((j) => j.jobId),
      [cases.completes],
    );
  });
  const root = startReplay(routes());
  await withRest(root, async (slurm) => assert.deepEqual(await slurm.queue(), []), {
    token: "t",
    user: "root",
  });
});

Deno.test("RestSlurm.queue() reads a live job's record: RUNNING on a node, a held one PENDING", async () => {
  const server = startReplay(routes({
    [`GET ${V38}/jobs`]: {
      json: {
        ...recorded("job_running.json") as object,
        jobs: [
          ...(recorded("job_running.json") as { jobs: unknown[] }).jobs,
          ...(recorded("job_held.json") as { jobs: unknown[] }).jobs,
        ],
      },
    },
  }));
  await withRest(server, async (slurm) => {
    const [running, held] = await slurm.queue();
    assert.equal(running?.state, "RUNNING");
    assert.equal(running?.node, "localhost");
    assert.equal(running?.partition, "gpu_a");
    assert.equal(held?.state, "PENDING");
    assert.equal(held?.reason, "JobHeldUser");
    assert.equal(held?.node, undefined);
    assert.equal(held?.startTime, undefined);
  });
});

Deno.test("RestSlurm.accounting() reads slurmdbd's records and skips jobs it does not hold", async () => {
  const server = startReplay(routes());
  await withRest(server, async (slurm) => {
    const jobs = await slurm.accounting([
      cases.completes!,
      cases.fails!,
      cases.running!,
      "999999999",
    ]);
    assert.deepEqual(jobs.map((j) => [j.jobId, j.state]), [
      [cases.completes, "COMPLETED"],
      [cases.fails, "FAILED"],
      [cases.running, "CANCELLED"],
    ]);
    assert.equal(jobs[0]?.timeLimitSeconds, 120);
  });
});

Deno.test("RestSlurm.cancel() deletes the job, with a signal when given", async () => {
  const server = startReplay(routes({
    [`DELETE ${V38}/job/${cases.running}?signal=USR1`]: { file: "cancel.json" },
    [`DELETE ${V38}/job/1`]: { file: "job_unknown.json", status: 500 },
    [`DELETE ${V38}/job/2`]: {
      json: { errors: [{ error: "Access/permission denied", error_number: 2002 }] },
      status: 500,
    },
  }));
  await withRest(server, async (slurm) => {
    await slurm.cancel(cases.running!);
    await slurm.cancel(cases.running!, { signal: "USR1" });
    assert.deepEqual(
      server.seen.filter((s) => s.method === "DELETE").map((s) => s.path),
      [`${V38}/job/${cases.running}`, `${V38}/job/${cases.running}?signal=USR1`],
    );
    // A job slurmctld no longer knows has ended: cancelled already, as scancel's caller sees it.
    await slurm.cancel("1");
    await assert.rejects(slurm.cancel("2"), /answered 500: Access\/permission denied/);
  });
});

Deno.test("RestSlurm fetches tokens with token_command over SSH, refreshes them before expiry and after a 401", async () => {
  const dir = await Deno.makeTempDir();
  const file = join(dir, "token");
  const secret = new TextEncoder().encode("a test key of at least thirty-two bytes");
  const t0 = Date.now();
  let clock = t0;
  const jwt = (n: number) =>
    new SignJWT({ sun: "nobody", n }).setProtectedHeader({ alg: "HS256" })
      .setExpirationTime(Math.floor((t0 + 3_600_000) / 1000) + n).sign(secret);
  const tokens = [await jwt(1), await jwt(2), await jwt(3)];
  await Deno.writeTextFile(file, `SLURM_JWT=${tokens[0]}\n`);
  let refuse = false;
  const server = startReplay(routes({
    [`GET ${V38}/jobs`]: (seen) => {
      if (refuse && seen.headers.get("x-slurm-user-token") === tokens[1]) {
        return { json: { errors: [{ error: "Authentication failure" }] }, status: 401 };
      }
      return { file: "jobs.json" };
    },
  }));
  try {
    await withRest(
      server,
      async (slurm) => {
        const listed = (await slurm.queue()).length;
        await slurm.queue();
        assert.equal(slurm.tokenFetches, 1, "a fresh token is reused");
        // 200 s before expiry is inside the 5-minute margin: the next call fetches a new one.
        await Deno.writeTextFile(file, `SLURM_JWT=${tokens[1]}\n`);
        clock = t0 + 3_400_000;
        await slurm.queue();
        assert.equal(slurm.tokenFetches, 2);
        // slurmrestd refuses it: fetched again, and the request retried once.
        await Deno.writeTextFile(file, `${tokens[2]}\n`);
        refuse = true;
        assert.equal((await slurm.queue()).length, listed);
        assert.equal(slurm.tokenFetches, 3);
        const used = server.seen.filter((s) => s.path === `${V38}/jobs`).map((s) =>
          tokens.indexOf(s.headers.get("x-slurm-user-token") ?? "")
        );
        assert.deepEqual(used, [0, 0, 1, 1, 2]);
      },
      { token_command: `cat ${file}` },
      () => clock,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RestSlurm says what is wrong when token_command fails or a fixed token expired", async () => {
  const failing = startReplay(routes());
  await withRest(failing, async (slurm) => {
    await assert.rejects(
      slurm.queue(),
      /token_command "echo no such thing >&2; exit 1" on root@127\.0\.0\.1:2222 exited 1: no such thing/,
    );
  }, { token_command: "echo no such thing >&2; exit 1" });
  const expired = await new SignJWT({}).setProtectedHeader({ alg: "HS256" })
    .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
    .sign(new TextEncoder().encode("a test key of at least thirty-two bytes"));
  const stale = startReplay(routes());
  await withRest(stale, async (slurm) => {
    await assert.rejects(
      slurm.queue(),
      /cluster\.slurm\.rest\.token expired at .*set token_command/,
    );
  }, { token: expired });
});

Deno.test("RestSlurm.readFile() and home() read the cluster through the shell", async () => {
  const server = startReplay(routes());
  await withRest(server, async (slurm, shell) => {
    const path = `/tmp/turnpike-rest-read-${crypto.randomUUID()}.out`;
    await shell.exec(["sh", "-c", `printf 'first\\nsecond\\n' > ${path}`]);
    try {
      assert.equal(await slurm.readFile(path), "first\nsecond\n");
      assert.equal(await slurm.readFile(path, 6), "second\n");
      assert.equal(await slurm.readFile(`${path}.missing`), "", "no output yet");
      assert.match(await slurm.home(), /^\/root$/);
    } finally {
      await shell.exec(["rm", "-f", path]);
    }
  });
});

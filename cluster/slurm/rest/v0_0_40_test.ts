/**
 * The v0.0.40-v0.0.44 dialect on answers written in the shapes of SchedMD's data_parser (crafted:
 * the testbed's slurmrestd is 22.05 and serves v0.0.38 only).
 */
import assert from "node:assert/strict";
import { dialect40 } from "./v0_0_40.ts";

const dialect = dialect40("v0.0.42");
const n = (number: number) => ({ set: true, infinite: false, number });

Deno.test("dialect40 puts the script and an environment list inside job, numbers as {set, number}", () => {
  const body = dialect.submitBody("#!/bin/bash\ntrue\n", {
    name: "tp-m-r0",
    partition: "gpu_a",
    timeLimitMinutes: 60,
    nodes: 1,
    gres: "gpu:2",
    memoryMb: 1024,
    signal: "B:USR1@300",
    openMode: "append",
    exclusive: true,
  }, { PATH: "/usr/bin:/bin" });
  assert.deepEqual(body, {
    job: {
      script: "#!/bin/bash\ntrue\n",
      name: "tp-m-r0",
      partition: "gpu_a",
      time_limit: n(60),
      nodes: "1",
      tres_per_node: "gres/gpu:2",
      memory_per_node: n(1024),
      kill_warning_signal: "USR1",
      kill_warning_delay: n(300),
      kill_warning_flags: ["BATCH_JOB"],
      open_mode: ["APPEND"],
      shared: ["user"],
      environment: ["PATH=/usr/bin:/bin"],
    },
  });
});

Deno.test("dialect40 reads state arrays, {set, number} times and verbose exit codes", () => {
  const [running, done, unlimited] = dialect.parseJobs({
    jobs: [
      {
        job_id: 7,
        name: "tp-m-r0",
        job_state: ["RUNNING"],
        state_reason: "None",
        partition: "gpu_a",
        nodes: "gpu[01-02]",
        submit_time: n(1_700_000_000),
        start_time: n(1_700_000_010),
        end_time: n(1_700_003_610),
        time_limit: n(60),
        exit_code: { status: ["PENDING"], return_code: { set: false, number: 0 } },
        user_name: "alice",
      },
      {
        job_id: 8,
        name: "tp-m-r1",
        job_state: ["FAILED"],
        state_reason: "NonZeroExitCode",
        time_limit: { set: true, infinite: true, number: 0 },
        exit_code: { status: ["ERROR"], return_code: n(3), signal: { id: n(0), name: "" } },
      },
      { job_id: 9, name: "x", job_state: ["PENDING"], time_limit: null, nodes: "" },
    ],
  });
  assert.deepEqual(running, {
    jobId: "7",
    name: "tp-m-r0",
    state: "RUNNING",
    partition: "gpu_a",
    nodes: "gpu[01-02]",
    node: "gpu01",
    submitTime: new Date(1_700_000_000_000),
    startTime: new Date(1_700_000_010_000),
    endTime: new Date(1_700_003_610_000),
    timeLimitSeconds: 3600,
    user: "alice",
  });
  assert.deepEqual(done, {
    jobId: "8",
    name: "tp-m-r1",
    state: "FAILED",
    reason: "NonZeroExitCode",
    exitCode: "3:0",
  });
  assert.deepEqual(unlimited, { jobId: "9", name: "x", state: "PENDING" });
});

Deno.test("dialect40 reads slurmdbd's jobs and skips its placeholder rows", () => {
  const jobs = dialect.parseAccounting({
    jobs: [
      {
        job_id: 7,
        name: "tp-m-r0",
        state: { current: ["CANCELLED"], reason: "None" },
        partition: "gpu_a",
        nodes: "gpu01",
        time: { submission: 1_700_000_000, start: 1_700_000_010, end: 1_700_000_100, limit: n(60) },
        exit_code: { status: ["SIGNALED"], return_code: n(0), signal: { id: n(15), name: "TERM" } },
      },
      { job_id: 8, name: "allocation", state: { current: ["PENDING"] }, partition: "" },
    ],
  });
  assert.deepEqual(jobs.map((j) => [j.jobId, j.state, j.exitCode, j.timeLimitSeconds]), [
    ["7", "CANCELLED", "0:15", 3600],
  ]);
  assert.deepEqual(dialect.parseSubmit({ job_id: 12, errors: [], warnings: [] }), {
    ok: true,
    jobId: "12",
  });
  assert.deepEqual(
    dialect.parseSubmit({
      errors: [{ error: "Invalid qos specification", description: "", error_number: 2066 }],
    }),
    { ok: false, error: "Invalid qos specification" },
  );
});

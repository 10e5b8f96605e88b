import assert from "node:assert/strict";
import {
  firstNode,
  isFinished,
  neverClears,
  parseSacct,
  parseSlurmTime,
  parseSqueue,
  parseState,
  pendingGroupOf,
  reasonCode,
  sbatchFailureKind,
  SlurmParseError,
} from "./parse.ts";
import { type JobInfo, SLURM_STATES } from "./types.ts";

// Recorded from the SLURM 22.05 testbed by testdata/record.sh: cases.json maps each case to its
// job id, the other files are squeue's and sacct's own output for those jobs.
const data = new URL("./testdata/", import.meta.url);
const read = (name: string) => Deno.readTextFileSync(new URL(name, data));
const cases: Record<string, string> = JSON.parse(read("cases.json"));

function byCase(jobs: JobInfo[], name: string): JobInfo {
  const job = jobs.find((j) => j.jobId === cases[name]);
  assert.ok(job, `no job for case ${name}`);
  assert.equal(job.name, `tprec-${name}`);
  return job;
}

Deno.test("parseSqueue() reads the recorded squeue output of every state the testbed produced", () => {
  const jobs = parseSqueue(read("squeue_all.txt"));
  assert.equal(jobs.length, Object.keys(cases).length);
  const running = byCase(jobs, "running");
  assert.equal(running.state, "RUNNING");
  assert.equal(running.reason, undefined, "squeue's None is left out");
  assert.equal(running.partition, "gpu_a");
  assert.equal(running.node, "localhost");
  assert.equal(running.timeLimitSeconds, 600);
  assert.ok(running.startTime && running.endTime && running.submitTime);
  assert.equal(running.endTime.getTime() - running.startTime.getTime(), 600_000);
  assert.equal(running.exitCode, undefined);

  assert.equal(byCase(jobs, "completed").state, "COMPLETED");
  const failed = byCase(jobs, "failed_exit3");
  assert.equal(failed.state, "FAILED");
  assert.equal(failed.reason, "NonZeroExitCode");
  assert.equal(byCase(jobs, "cancelled_running").state, "CANCELLED");
  const cancelledPending = byCase(jobs, "cancelled_pending");
  assert.equal(cancelledPending.state, "CANCELLED");
  assert.equal(cancelledPending.node, undefined);

  const pending: Record<string, string> = {
    held_user: "JobHeldUser",
    held_admin: "JobHeldAdmin",
    begin_time: "BeginTime",
    dependency: "Dependency",
    dependency_never: "DependencyNeverSatisfied",
    resources: "Resources",
  };
  for (const [name, reason] of Object.entries(pending)) {
    const job = byCase(jobs, name);
    assert.equal(job.state, "PENDING", name);
    assert.equal(job.reason, reason, name);
    assert.equal(job.node, undefined, name);
    assert.equal(job.nodes, undefined, name);
    assert.equal(job.startTime, undefined, `${name}: an estimate is no start`);
    assert.equal(job.timeLimitSeconds, undefined, `${name}: UNLIMITED`);
  }
  const timeout = byCase(jobs, "timeout");
  assert.equal(timeout.state, "RUNNING");
  assert.equal(timeout.timeLimitSeconds, 60);
});

Deno.test("parseSqueue() reads the recorded final states: TIMEOUT with its reason", () => {
  const jobs = parseSqueue(read("squeue_final.txt"));
  const timeout = byCase(jobs, "timeout");
  assert.equal(timeout.state, "TIMEOUT");
  assert.equal(timeout.reason, "TimeLimit");
  assert.ok(timeout.startTime && timeout.endTime);
  assert.ok(timeout.endTime.getTime() - timeout.startTime.getTime() >= 60_000);
  assert.equal(byCase(jobs, "resources").state, "CANCELLED");
});

Deno.test("parseSacct() reads the recorded sacct output: CANCELLED by 0, exit codes, unknown times", () => {
  const jobs = parseSacct(read("sacct.txt"));
  assert.equal(jobs.length, Object.keys(cases).length);
  const failed = byCase(jobs, "failed_exit3");
  assert.equal(failed.state, "FAILED");
  assert.equal(failed.exitCode, "3:0");
  assert.equal(failed.node, "localhost");
  const cancelled = byCase(jobs, "cancelled_running");
  assert.equal(cancelled.state, "CANCELLED");
  assert.equal(cancelled.exitCode, "0:0");
  assert.equal(byCase(jobs, "completed").exitCode, "0:0");
  const timeout = byCase(jobs, "timeout");
  assert.equal(timeout.state, "TIMEOUT");
  assert.equal(timeout.timeLimitSeconds, 60);
  const running = byCase(jobs, "running");
  assert.equal(running.state, "RUNNING");
  assert.equal(running.endTime, undefined, "sacct's Unknown end");
  assert.equal(running.exitCode, undefined, "no exit code while it runs");
  assert.equal(running.timeLimitSeconds, 600, "00:10:00");
  const held = byCase(jobs, "held_user");
  assert.equal(held.state, "PENDING");
  assert.equal(held.node, undefined, "None assigned");
  assert.equal(held.timeLimitSeconds, undefined, "Partition_Limit");
  assert.equal(held.reason, undefined, "sacct's pending reason is stale; squeue has it");
  const cancelledPending = byCase(jobs, "cancelled_pending");
  assert.equal(cancelledPending.startTime, undefined, "sacct's None start");
  assert.ok(cancelledPending.endTime);
  // The early read, taken a moment after the changes, already agrees on the settled jobs.
  const early = parseSacct(read("sacct_early.txt"));
  assert.equal(byCase(early, "timeout").state, "RUNNING");
  assert.equal(byCase(early, "cancelled_running").state, "CANCELLED");
  // Right after its submit, sacct did not know the job yet: no row, not an error.
  assert.deepEqual(parseSacct(read("sacct_fresh.txt")), []);
});

Deno.test("parseSacct() skips the recorded placeholder row of a job sacct polled from its submit", () => {
  // The real sequence: slurmdbd's placeholder (allocation, no partition, PENDING though the job
  // already ran), then RUNNING, then COMPLETED.
  const [placeholder, running, completed] = read("sacct_lag.txt").trim().split("\n");
  assert.match(placeholder!, /\|\|localhost\|.*\|allocation$/);
  assert.deepEqual(parseSacct(placeholder!), [], "not a PENDING job: no row yet");
  assert.deepEqual(parseSacct(`${running}\n`).map((j) => [j.state, j.node]), [
    ["RUNNING", "localhost"],
  ]);
  const [done] = parseSacct(completed!);
  assert.equal(done?.state, "COMPLETED");
  assert.equal(done?.exitCode, "0:0");
  assert.equal(done?.name, "tprec-lag");
});

Deno.test("parseSacct() leaves out the placeholder rows sacct shows while slurmdbd lags", () => {
  const text = "41|PENDING|None||None assigned|Unknown|Unknown|Unknown|Partition_Limit|0:0|" +
    "allocation\n" +
    "42|PENDING|None|gpu_a|None assigned|1796290993|Unknown|Unknown|Partition_Limit|0:0|" +
    "allocation\n" +
    "43|RUNNING|None|gpu_a|localhost|1796290992|1796290992|Unknown|00:10:00|0:0|tp.m.0.k\n";
  assert.deepEqual(parseSacct(text).map((j) => j.jobId), ["43"]);
});

Deno.test("crafted lines for states the testbed cannot produce parse with their reasons", () => {
  // The states a one-node testbed without preemption, cgroups or deadlines never shows, in the
  // same formats (squeue first, then sacct).
  const squeue = [
    "101|PREEMPTED|None|gpu_a|gpu[01-02]|1796290000|1796290010|1796290500|4:00:00|tp.a.0.x",
    "102|NODE_FAIL|NodeDown|gpu_a|gpu07|1796290000|1796290010|1796290500|1-00:00:00|tp.a.1.x",
    "103|BOOT_FAIL|None|gpu_b|node[3,5-6]|1796290000|1796290010|1796290011|30:00|tp.b.0.x",
    "104|DEADLINE|DeadLine|gpu_b||1796290000|N/A|1796290100|5|tp.b.1.x",
    "105|OUT_OF_MEMORY|OutOfMemory|gpu_a|localhost|1796290000|1796290010|1796290020|1:00|x",
    "106|PENDING|QOSMaxGRESPerJob|gpu_a||1796290000|N/A|N/A|UNLIMITED|x",
    "107|PENDING|ReqNodeNotAvail, UnavailableNodes:gpu[03-04]|gpu_a||1796290000|N/A|N/A|1:00|x",
    "108|SUSPENDED|None|gpu_a|rack[2-3]-n[07-08]|1796290000|1796290010|NONE|1:00|a|b",
    "109|REQUEUED|BeginTime|gpu_a||1796290000|N/A|N/A|1:00|x",
    "110|COMPLETING|None|gpu_a|h1,h2|1796290000|1796290010|1796290020|1:00|x",
  ].join("\n");
  const jobs = parseSqueue(squeue);
  assert.deepEqual(jobs.map((j) => j.state), [
    "PREEMPTED",
    "NODE_FAIL",
    "BOOT_FAIL",
    "DEADLINE",
    "OUT_OF_MEMORY",
    "PENDING",
    "PENDING",
    "SUSPENDED",
    "REQUEUED",
    "COMPLETING",
  ]);
  assert.deepEqual(jobs.map((j) => j.node), [
    "gpu01",
    "gpu07",
    "node3",
    undefined,
    "localhost",
    undefined,
    undefined,
    "rack2-n07",
    undefined,
    "h1",
  ]);
  assert.deepEqual(jobs.map((j) => j.timeLimitSeconds), [
    14_400,
    86_400,
    1_800,
    300,
    60,
    undefined,
    60,
    60,
    60,
    60,
  ]);
  assert.equal(jobs[0]!.nodes, "gpu[01-02]");
  assert.equal(jobs[3]!.startTime, undefined);
  assert.equal(jobs[3]!.endTime?.getTime(), 1796290100_000);
  assert.equal(jobs[7]!.name, "a|b", "a | in a name stays in the name");
  assert.equal(jobs[6]!.reason, "ReqNodeNotAvail, UnavailableNodes:gpu[03-04]");

  const sacct = parseSacct([
    "201|PREEMPTED|None|gpu_a|gpu01|1796290000|1796290010|1796290500|04:00:00|0:15|p",
    "202|NODE_FAIL|None|gpu_a|gpu07|1796290000|1796290010|1796290500|04:00:00|1:0|n",
    "203|OUT_OF_MEMORY|None|gpu_a|gpu01|1796290000|1796290010|1796290500|04:00:00|0:125|o",
    "204|CANCELLED by 1000|None|gpu_a|gpu01|1796290000|1796290010|1796290500|04:00:00|0:15|c",
    "205|BOOT_FAIL|None|gpu_a|gpu01|2026-12-03T09:36:57|2026-12-03T09:37:00|" +
    "2026-12-03T09:37:01|04:00:00|0:0|b",
    "206|DEADLINE|None|gpu_a|None assigned|1796290000|None|1796290500|04:00:00|0:0|d",
  ].join("\n"));
  assert.deepEqual(sacct.map((j) => `${j.state} ${j.exitCode}`), [
    "PREEMPTED 0:15",
    "NODE_FAIL 1:0",
    "OUT_OF_MEMORY 0:125",
    "CANCELLED 0:15",
    "BOOT_FAIL 0:0",
    "DEADLINE 0:0",
  ]);
  assert.equal(sacct[4]!.submitTime?.getTime(), new Date(2026, 11, 3, 9, 36, 57).getTime());
});

Deno.test("a line in no known format, or with an unknown state, is a SlurmParseError naming it", () => {
  assert.throws(() => parseSqueue("17 RUNNING gpu_a"), (error: unknown) => {
    assert.ok(error instanceof SlurmParseError);
    assert.equal(error.line, "17 RUNNING gpu_a");
    assert.match(error.message, /expected 10 fields/);
    return true;
  });
  assert.throws(
    () => parseSacct("1|WAITING|None|gpu_a|h|1|1|1|1:00|0:0|x"),
    /unknown job state "WAITING"/,
  );
});

Deno.test("parseState() knows every SLURM state and strips sacct's suffixes", () => {
  for (const state of SLURM_STATES) assert.equal(parseState(state), state);
  assert.equal(parseState("CANCELLED by 0"), "CANCELLED");
  assert.equal(parseState("CANCELLED+"), "CANCELLED");
  assert.equal(parseState("running"), undefined);
  assert.equal(isFinished("TIMEOUT"), true);
  assert.equal(isFinished("PREEMPTED"), true);
  assert.equal(isFinished("RUNNING"), false);
  assert.equal(isFinished("REQUEUED"), false);
  assert.equal(isFinished("PENDING"), false);
});

Deno.test("firstNode() and parseSlurmTime() read host lists and times", () => {
  assert.equal(firstNode("gpu[01-03,05]"), "gpu01");
  assert.equal(firstNode("gpu[05,01-03]"), "gpu05");
  assert.equal(firstNode("gpu[01-02],cpu5"), "gpu01");
  assert.equal(firstNode("localhost"), "localhost");
  assert.equal(firstNode("None assigned"), undefined);
  assert.equal(firstNode(""), undefined);
  assert.equal(parseSlurmTime("1796290992")?.toISOString(), "2026-12-03T09:43:12.000Z");
  for (const none of ["N/A", "NONE", "Unknown", "None", "", "0"]) {
    assert.equal(parseSlurmTime(none), undefined, none);
  }
});

Deno.test("pendingGroupOf() groups SLURM's pending reasons as users need them", () => {
  const groups: Record<string, string> = {
    Resources: "resources",
    "ReqNodeNotAvail, UnavailableNodes:gpu01": "resources",
    "ReqNodeNotAvail, Reserved for maintenance": "resources",
    Licenses: "resources",
    Reservation: "resources",
    Priority: "priority",
    QOSMaxJobsPerUserLimit: "quota",
    QOSGrpGRES: "quota",
    AssocGrpGRES: "quota",
    AssocGrpCpuLimit: "quota",
    AssocMaxJobsLimit: "quota",
    AssociationJobLimit: "quota",
    QOSMaxGRESPerJob: "quota",
    MaxGRESPerAccount: "quota",
    AccountingPolicy: "quota",
    JobHeldUser: "held",
    JobHeldAdmin: "held",
    Dependency: "dependency",
    DependencyNeverSatisfied: "dependency",
    BeginTime: "other",
    PartitionDown: "other",
    InvalidQOS: "other",
    QOSNotAllowed: "other",
    WaitingForScheduling: "other",
    "(Resources)": "resources",
  };
  for (const [reason, group] of Object.entries(groups)) {
    assert.equal(pendingGroupOf(reason), group, reason);
  }
  assert.equal(reasonCode("ReqNodeNotAvail, UnavailableNodes:gpu01"), "ReqNodeNotAvail");
});

Deno.test("neverClears() is true for reasons that waiting will not fix, false for the rest", () => {
  const never = [
    "DependencyNeverSatisfied",
    "PartitionDown",
    "PartitionInactive",
    "PartitionTimeLimit",
    "InvalidQOS",
    "InvalidAccount",
    "BadConstraints",
    "QOSMaxGRESPerJob",
    "QOSMaxWallDurationPerJobLimit",
    "QOSMaxNodePerJobLimit",
    "QOSMaxCpuPerNode",
    "AssocMaxGRESPerJob",
    "AssocMaxWallDurationPerJobLimit",
    "QOSMinGRES",
    "ReqNodeNotAvail, UnavailableNodes:gpu[01-02]",
  ];
  const clears = [
    "Resources",
    "Priority",
    "Dependency",
    "BeginTime",
    "JobHeldUser",
    "JobHeldAdmin",
    "QOSMaxJobsPerUserLimit",
    "QOSGrpGRES",
    "AssocGrpGRES",
    "AssocMaxJobsLimit",
    "ReqNodeNotAvail, Reserved for maintenance",
    "ReqNodeNotAvail, UnavailableNodes:",
    "WaitingForScheduling",
  ];
  for (const reason of never) assert.equal(neverClears(reason), true, reason);
  for (const reason of clears) assert.equal(neverClears(reason), false, reason);
  // Every recorded pending reason goes through both functions without surprise.
  for (const job of parseSqueue(read("squeue_all.txt"))) {
    if (job.state !== "PENDING") continue;
    assert.equal(neverClears(job.reason!), job.reason === "DependencyNeverSatisfied", job.reason);
  }
});

Deno.test("sbatchFailureKind() tells the testbed's recorded refusals from an unreachable controller", () => {
  const recorded = read("sbatch_refused.jsonl").trim().split("\n").map((line) =>
    JSON.parse(line) as { option: string; code: number; stderr: string }
  );
  assert.equal(recorded.length, 5);
  for (const { option, code, stderr } of recorded) {
    assert.equal(code, 1, option);
    assert.equal(sbatchFailureKind(stderr), "refused", option);
  }
  for (
    const text of [
      "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation",
      "sbatch: error: Batch job submission failed: Unable to contact slurm controller " +
      "(connect failure)",
      "sbatch: error: slurm_receive_msg: Zero Bytes were transmitted or received",
      "sbatch: error: resolve_ctls_from_dns_srv: res_nsearch error: Unknown host\n" +
      "sbatch: error: fetch_config: DNS SRV lookup failed\n" +
      "sbatch: error: _establish_config_source: failed to fetch config\n" +
      "sbatch: fatal: Could not establish a configuration source",
    ]
  ) {
    assert.equal(sbatchFailureKind(text), "unreachable", text);
  }
});

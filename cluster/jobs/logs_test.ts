import assert from "node:assert/strict";
import { parseJobRef, scontrolPath } from "./logs.ts";

/** `scontrol show job -o 14` on the testbed (SLURM 22.05.8), a pending job; the line ends in a blank. */
const SCONTROL_PENDING =
  "JobId=14 JobName=c2-probe UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901748 Nice=0 Account=testacct QOS=normal JobState=PENDING Reason=Resources Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0 RunTime=00:00:00 TimeLimit=UNLIMITED TimeMin=N/A SubmitTime=2026-12-03T09:41:59 EligibleTime=2026-12-03T09:41:59 AccrueTime=2026-12-03T09:41:59 StartTime=Unknown EndTime=Unknown Deadline=N/A SuspendTime=None SecsPreSuspend=0 LastSchedEval=2026-12-03T09:41:59 Scheduler=Main Partition=gpu_a AllocNode:Sid=localhost:5352 ReqNodeList=(null) ExcNodeList=(null) NodeList= NumNodes=1 NumCPUs=1 NumTasks=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:* TRES=cpu=1,mem=512M,node=1,billing=1 Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=* MinCPUsNode=1 MinMemoryCPU=512M MinTmpDiskNode=0 Features=(null) DelayBoot=00:00:00 OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null) Command=(null) WorkDir=/tmp StdErr=/tmp/c2-probe-14.out StdIn=/dev/null StdOut=/tmp/c2-probe-14.out Power= \n";

Deno.test("parseJobRef() tells a job id, a MODEL/REPLICA and a job name apart", () => {
  assert.deepEqual(parseJobRef("42"), { kind: "id", jobId: "42" });
  assert.deepEqual(parseJobRef("42_3"), { kind: "id", jobId: "42_3" });
  assert.deepEqual(parseJobRef("llama/1"), { kind: "replica", model: "llama", replica: 1 });
  assert.deepEqual(parseJobRef("org/model/0"), { kind: "replica", model: "org/model", replica: 0 });
  assert.deepEqual(parseJobRef("tp-m-0-abc"), { kind: "name", name: "tp-m-0-abc" });
});

Deno.test("scontrolPath() reads the output and error paths of real scontrol output", () => {
  assert.equal(scontrolPath(SCONTROL_PENDING, "StdOut"), "/tmp/c2-probe-14.out");
  assert.equal(scontrolPath(SCONTROL_PENDING, "StdErr"), "/tmp/c2-probe-14.out");
  assert.equal(
    scontrolPath("JobId=1 StdOut=/scratch/my jobs/m-1.out Power=", "StdOut"),
    "/scratch/my jobs/m-1.out",
  );
  assert.equal(scontrolPath("JobId=1 StdOut=/last/field.out", "StdOut"), "/last/field.out");
  assert.equal(scontrolPath("JobId=1 StdOut=(null) Power=", "StdOut"), undefined);
  assert.equal(scontrolPath("JobId=1 StdOut=/a.out Power=", "StdErr"), undefined);
  assert.equal(
    scontrolPath("slurm_load_jobs error: Invalid job id specified", "StdOut"),
    undefined,
  );
});

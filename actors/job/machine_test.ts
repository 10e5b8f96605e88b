import assert from "node:assert/strict";
import { SLURM_STATES } from "../../cluster/slurm/types.ts";
import type { JobInfo, SlurmState } from "../../cluster/slurm/types.ts";
import {
  backoffMs,
  type JobEffect,
  type JobEvent,
  type JobState,
  type MachineConfig,
  next,
  plannedJob,
} from "./machine.ts";

const config: MachineConfig = {
  partitions: [{ name: "gpu_a", qos: "normal" }, { name: "gpu_b" }],
  basePort: 5900,
  pendingTimeoutMs: 60_000,
  maxAttempts: 3,
  backoff: { initialMs: 1_000, maxMs: 3_000 },
  signalLeadMs: 30_000,
  startupTimeoutMs: 20_000,
  drainDeadlineMs: 5_000,
  missingGraceMs: 10_000,
  pendingGroupOf: (reason) => reason === "QOSMaxJobsPerUserLimit" ? "quota" : "resources",
  neverClears: (reason) => reason === "PartitionDown" || reason === "DependencyNeverSatisfied",
};

function info(state: SlurmState, extra: Partial<JobInfo> = {}): JobInfo {
  return { jobId: "41", name: "tp-m-0-x", state, ...extra };
}

/** Runs events in order from `state`, collecting every effect. */
function run(state: JobState, events: [JobEvent, number][], cfg = config) {
  const effects: JobEffect[] = [];
  for (const [event, at] of events) {
    const t = next(state, event, cfg, at);
    state = t.state;
    effects.push(...t.effects);
  }
  return { state, effects };
}

const kinds = (effects: JobEffect[]) => effects.map((e) => e.type).filter((t) => t !== "log");

function healthyJob(): JobState {
  return run(plannedJob("abc", "m", 1, 0), [
    [{ type: "start" }, 0],
    [{ type: "submitted", jobId: "41" }, 1],
    [{ type: "observed", info: info("PENDING", { reason: "Resources" }) }, 2],
    [{
      type: "observed",
      info: info("RUNNING", { node: "localhost", startTime: new Date(3), timeLimitSeconds: 120 }),
    }, 3],
    [{ type: "healthy", endpoint: "http://127.0.0.1:7001" }, 4],
  ]).state;
}

Deno.test("a job goes planned, submitted, pending, running, healthy and registers its backend", () => {
  const start = next(plannedJob("abc", "m", 1, 0), { type: "start" }, config, 0);
  assert.deepStrictEqual(start.effects, [{
    type: "submit",
    key: "abc1",
    partition: { name: "gpu_a", qos: "normal" },
    port: 5901,
    attempt: 1,
  }]);
  assert.deepStrictEqual(start.state.submitIssuedAtMs, 0);
  const submitted = next(start.state, { type: "submitted", jobId: "41" }, config, 1);
  assert.deepStrictEqual(submitted.state.phase, "submitted");
  assert.deepStrictEqual(submitted.state.submitIssuedAtMs, undefined);
  const pending = next(
    submitted.state,
    { type: "observed", info: info("PENDING", { reason: "Resources" }) },
    config,
    2,
  );
  assert.deepStrictEqual(pending.state.phase, "pending");
  assert.deepStrictEqual(pending.state.pendingGroup, "resources");
  assert.deepStrictEqual(pending.effects, [{ type: "timer", atMs: 60_002 }]);
  const running = next(
    pending.state,
    { type: "observed", info: info("RUNNING", { node: "localhost" }) },
    config,
    3,
  );
  assert.deepStrictEqual(running.state.phase, "running");
  assert.deepStrictEqual(running.state.pendingReason, undefined);
  assert.deepStrictEqual(running.effects, [{
    type: "wait_healthy",
    node: "localhost",
    port: 5901,
    deadlineMs: 20_003,
  }]);
  const healthy = next(running.state, { type: "healthy", endpoint: "http://x:1" }, config, 4);
  assert.deepStrictEqual(healthy.state.phase, "healthy");
  assert.deepStrictEqual(healthy.state.endpoint, "http://x:1");
  assert.deepStrictEqual(healthy.effects, [{ type: "register", endpoint: "http://x:1" }]);
});

Deno.test("every SLURM state maps to a phase", () => {
  const waiting = [
    "PENDING",
    "CONFIGURING",
    "REQUEUED",
    "REQUEUE_FED",
    "REQUEUE_HOLD",
    "RESV_DEL_HOLD",
    "SUSPENDED",
    "STOPPED",
    "RESIZING",
  ];
  const live = ["RUNNING", "SIGNALING", "STAGE_OUT"];
  for (const slurm of SLURM_STATES) {
    const submitted = run(plannedJob("abc", "m", 0, 0), [
      [{ type: "start" }, 0],
      [{ type: "submitted", jobId: "41" }, 1],
    ]).state;
    const t = next(submitted, { type: "observed", info: info(slurm, { node: "n1" }) }, config, 5);
    const expected = waiting.includes(slurm)
      ? "pending"
      : live.includes(slurm)
      ? "running"
      : "backoff";
    assert.deepStrictEqual(t.state.phase, expected, slurm);
    assert.deepStrictEqual(t.state.slurmState, expected === "backoff" ? undefined : slurm, slurm);
  }
});

Deno.test("a healthy job that fails, is preempted or times out is retired first, then resubmitted after a backoff", () => {
  for (
    const end of [
      "FAILED",
      "PREEMPTED",
      "NODE_FAIL",
      "TIMEOUT",
      "OUT_OF_MEMORY",
      "BOOT_FAIL",
      "DEADLINE",
      "COMPLETED",
      "CANCELLED",
    ] as const
  ) {
    const t = next(
      healthyJob(),
      {
        type: "observed",
        info: info(end, { exitCode: "1:0" }),
      },
      config,
      100,
    );
    assert.deepStrictEqual(kinds(t.effects), ["retire", "timer"], end);
    assert.deepStrictEqual(t.effects[0], { type: "retire", endpoint: "http://127.0.0.1:7001" });
    assert.deepStrictEqual(t.state.phase, "backoff");
    assert.deepStrictEqual(t.state.retryAtMs, 100 + 1_000);
    assert.deepStrictEqual(t.state.jobId, undefined);
    assert.deepStrictEqual(t.state.endpoint, undefined);
    assert(t.state.lastError?.includes(`ended ${end} (exit 1:0)`), t.state.lastError);
    const resubmit = next(t.state, { type: "tick" }, config, 1_100);
    assert.deepStrictEqual(resubmit.effects[0]?.type, "submit");
    assert.deepStrictEqual(resubmit.state.attempts, 2);
    assert.deepStrictEqual(resubmit.state.key, "abc2");
  }
});

Deno.test("a tick before the backoff is over only re-arms the timer", () => {
  const t = next(healthyJob(), { type: "observed", info: info("FAILED") }, config, 100);
  const early = next(t.state, { type: "tick" }, config, 500);
  assert.deepStrictEqual(early.effects, [{ type: "timer", atMs: 1_100 }]);
  assert.deepStrictEqual(early.state.phase, "backoff");
});

Deno.test("backoff doubles per attempt up to its max, and the job fails after max_attempts", () => {
  assert.deepStrictEqual([1, 2, 3, 4, 5].map((a) => backoffMs(config, a)), [
    1_000,
    2_000,
    3_000,
    3_000,
    3_000,
  ]);
  let state = plannedJob("abc", "m", 0, 0);
  let now = 0;
  const delays: number[] = [];
  for (let i = 0; i < 3; i++) {
    state = next(state, i === 0 ? { type: "start" } : { type: "tick" }, config, now).state;
    state = next(state, { type: "submitted", jobId: `${i}` }, config, now).state;
    const failed = next(
      state,
      {
        type: "observed",
        info: { jobId: `${i}`, name: "n", state: "FAILED", exitCode: "127:0" },
      },
      config,
      now + 1,
    );
    state = failed.state;
    if (state.phase === "backoff") {
      delays.push((state.retryAtMs as number) - (now + 1));
      now = state.retryAtMs as number;
    }
  }
  assert.deepStrictEqual(delays, [1_000, 2_000]);
  assert.deepStrictEqual(state.phase, "failed");
  assert.deepStrictEqual(state.attempts, 3);
  assert(state.lastError?.includes("FAILED"));
  // A failed job stays failed until started again.
  assert.deepStrictEqual(next(state, { type: "tick" }, config, now + 10_000).effects, []);
  const again = next(state, { type: "start" }, config, now + 10_000);
  assert.deepStrictEqual(again.state.attempts, 1);
  assert.deepStrictEqual(again.effects[0]?.type, "submit");
});

Deno.test("a partition that rejects the job falls back to the next by priority, with sbatch's error recorded", () => {
  const start = next(plannedJob("abc", "m", 0, 0), { type: "start" }, config, 0);
  const rejected = next(
    start.state,
    {
      type: "submit_rejected",
      error: "Invalid qos specification",
    },
    config,
    1,
  );
  assert.deepStrictEqual(rejected.state.lastError, "Invalid qos specification");
  assert.deepStrictEqual(rejected.state.partitionIndex, 1);
  assert.deepStrictEqual(rejected.effects.find((e) => e.type === "submit"), {
    type: "submit",
    key: "abc2",
    partition: { name: "gpu_b" },
    port: 5900,
    attempt: 2,
  });
  // The last partition refusing too: a backoff, then the first partition again.
  const both = next(
    rejected.state,
    { type: "submit_rejected", error: "Invalid account" },
    config,
    2,
  );
  assert.deepStrictEqual(both.state.phase, "backoff");
  assert.deepStrictEqual(both.state.partitionIndex, 0);
  assert(both.state.lastError?.includes("Invalid account"));
});

Deno.test("a job pending past pending_timeout is cancelled and submitted to the next partition", () => {
  let state = run(plannedJob("abc", "m", 0, 0), [
    [{ type: "start" }, 0],
    [{ type: "submitted", jobId: "41" }, 1],
    [{ type: "observed", info: info("PENDING", { reason: "Priority" }) }, 2],
  ]).state;
  const early = next(state, { type: "tick" }, config, 30_000);
  assert.deepStrictEqual(early.effects, []);
  const late = next(state, { type: "tick" }, config, 60_002);
  assert.deepStrictEqual(kinds(late.effects), ["cancel", "submit"]);
  assert.deepStrictEqual(late.effects[0], { type: "cancel", jobId: "41" });
  assert.deepStrictEqual(late.state.partition, "gpu_b");
  // On the last partition it keeps waiting, saying why once.
  state = run(late.state, [
    [{ type: "submitted", jobId: "42" }, 60_003],
    [
      { type: "observed", info: { ...info("PENDING", { reason: "Resources" }), jobId: "42" } },
      60_004,
    ],
  ]).state;
  const stuck = next(state, { type: "tick" }, config, 200_000);
  assert.deepStrictEqual(kinds(stuck.effects), []);
  assert.deepStrictEqual(stuck.effects.length, 1);
  assert.deepStrictEqual(stuck.state.phase, "pending");
  assert.deepStrictEqual(next(stuck.state, { type: "tick" }, config, 300_000).effects, []);
});

Deno.test("a PENDING reason that never clears falls back at once, and fails on the last partition", () => {
  const submitted = run(plannedJob("abc", "m", 0, 0), [
    [{ type: "start" }, 0],
    [{ type: "submitted", jobId: "41" }, 1],
  ]).state;
  const down = next(
    submitted,
    {
      type: "observed",
      info: info("PENDING", { reason: "PartitionDown" }),
    },
    config,
    2,
  );
  assert.deepStrictEqual(kinds(down.effects), ["cancel", "submit"]);
  const onB = run(down.state, [[{ type: "submitted", jobId: "42" }, 3]]).state;
  const dead = next(
    onB,
    {
      type: "observed",
      info: { ...info("PENDING", { reason: "DependencyNeverSatisfied" }), jobId: "42" },
    },
    config,
    4,
  );
  assert.deepStrictEqual(dead.state.phase, "failed");
  assert(dead.state.lastError?.includes("DependencyNeverSatisfied"));
  assert.deepStrictEqual(kinds(dead.effects), ["cancel"]);
});

Deno.test("a port taken on the node resubmits on the next port", () => {
  const running = run(plannedJob("abc", "m", 2, 0), [
    [{ type: "start" }, 0],
    [{ type: "submitted", jobId: "41" }, 1],
    [{ type: "observed", info: info("RUNNING", { node: "n1" }) }, 2],
  ]).state;
  const t = next(running, { type: "port_in_use" }, config, 3);
  assert.deepStrictEqual(kinds(t.effects), ["cancel", "submit"]);
  assert.deepStrictEqual(t.effects.find((e) => e.type === "submit"), {
    type: "submit",
    key: "abc2",
    partition: { name: "gpu_a", qos: "normal" },
    port: 5903,
    attempt: 2,
  });
  assert.deepStrictEqual(t.state.portOffset, 1);
  assert(t.state.lastError?.includes("port 5902"));
});

Deno.test("a replica that never becomes healthy is cancelled and backs off", () => {
  const running = run(plannedJob("abc", "m", 0, 0), [
    [{ type: "start" }, 0],
    [{ type: "submitted", jobId: "41" }, 1],
    [{ type: "observed", info: info("RUNNING", { node: "n1" }) }, 2],
  ]).state;
  const t = next(running, { type: "unhealthy", error: "no answer on /health in 20 s" }, config, 3);
  assert.deepStrictEqual(kinds(t.effects), ["cancel", "timer"]);
  assert.deepStrictEqual(t.state.phase, "backoff");
});

Deno.test("a healthy job nearing its time limit asks once for a replacement, and ends cancelled when it times out", () => {
  const healthy = healthyJob();
  // Started at 3 ms with 120 s: the replacement is due at 3 + 120,000 - 30,000.
  const early = next(
    healthy,
    { type: "observed", info: info("RUNNING", { node: "localhost" }) },
    config,
    50_000,
  );
  assert.deepStrictEqual(early.effects, [{ type: "timer", atMs: 90_003 }]);
  const due = next(healthy, { type: "tick" }, config, 90_003);
  assert.deepStrictEqual(kinds(due.effects), ["replace"]);
  assert.deepStrictEqual(due.state.replacing, true);
  assert.deepStrictEqual(kinds(next(due.state, { type: "tick" }, config, 95_000).effects), []);
  const timedOut = next(due.state, { type: "observed", info: info("TIMEOUT") }, config, 125_000);
  assert.deepStrictEqual(timedOut.state.phase, "cancelled");
  assert.deepStrictEqual(kinds(timedOut.effects), ["retire"]);
  // The replacement healthy first: the ModelActor stops the old one, which drains.
  const stopped = next(due.state, { type: "stop" }, config, 100_000);
  assert.deepStrictEqual(stopped.state.phase, "draining");
});

Deno.test("stop drains a healthy replica (retire, drain), then cancels, then it is cancelled", () => {
  const stop = next(healthyJob(), { type: "stop" }, config, 10);
  assert.deepStrictEqual(stop.effects, [
    { type: "retire", endpoint: "http://127.0.0.1:7001" },
    { type: "drain", endpoint: "http://127.0.0.1:7001", deadlineMs: 5_010 },
  ]);
  assert.deepStrictEqual(stop.state.phase, "draining");
  const drained = next(stop.state, { type: "drained" }, config, 20);
  assert.deepStrictEqual(drained.effects, [{ type: "cancel", jobId: "41" }]);
  assert.deepStrictEqual(drained.state.phase, "cancelling");
  const still = next(drained.state, { type: "observed", info: info("COMPLETING") }, config, 21);
  assert.deepStrictEqual(still.state.phase, "cancelling");
  const done = next(still.state, { type: "observed", info: info("CANCELLED") }, config, 22);
  assert.deepStrictEqual(done.state.phase, "cancelled");
  assert.deepStrictEqual(done.effects, []);
});

Deno.test("stop in every other phase", () => {
  const planned = plannedJob("abc", "m", 0, 0);
  assert.deepStrictEqual(next(planned, { type: "stop" }, config, 1).state.phase, "cancelled");
  // A submit in flight: cancelled once its id arrives.
  const issued = next(planned, { type: "start" }, config, 0).state;
  const waiting = next(issued, { type: "stop" }, config, 1);
  assert.deepStrictEqual(waiting.effects, []);
  const arrived = next(waiting.state, { type: "submitted", jobId: "9" }, config, 2);
  assert.deepStrictEqual(arrived.effects, [{ type: "cancel", jobId: "9" }]);
  assert.deepStrictEqual(arrived.state.phase, "cancelling");
  // A pending job is cancelled at once.
  const pending = run(planned, [
    [{ type: "start" }, 0],
    [{ type: "submitted", jobId: "41" }, 1],
    [{ type: "observed", info: info("PENDING") }, 2],
  ]).state;
  const p = next(pending, { type: "stop" }, config, 3);
  assert.deepStrictEqual(p.effects, [{ type: "cancel", jobId: "41" }]);
  // Gone from squeue and sacct after the cancel: cancelled after the grace.
  const gone = next(p.state, { type: "observed", info: undefined }, config, 4);
  assert.deepStrictEqual(gone.state.phase, "cancelling");
  assert.deepStrictEqual(
    next(gone.state, { type: "observed", info: undefined }, config, 10_004).state.phase,
    "cancelled",
  );
  // In backoff: nothing to cancel.
  const failed = next(healthyJob(), { type: "observed", info: info("FAILED") }, config, 5);
  assert.deepStrictEqual(next(failed.state, { type: "stop" }, config, 6).state.phase, "cancelled");
  // A job that ends while stopping is cancelled, not resubmitted.
  const pStop = next(pending, { type: "stop" }, config, 3).state;
  assert.deepStrictEqual(
    next(pStop, { type: "observed", info: info("CANCELLED") }, config, 4).state.phase,
    "cancelled",
  );
});

Deno.test("a restart with a submit under way looks the key up before submitting again", () => {
  const issued = next(plannedJob("abc", "m", 0, 0), { type: "start" }, config, 0).state;
  const restarted = next(issued, { type: "start" }, config, 100);
  assert.deepStrictEqual(restarted.effects, [{ type: "find", key: "abc1" }]);
  // Found in squeue: attached, no second submit.
  const found = next(
    issued,
    {
      type: "observed",
      info: info("RUNNING", { node: "n1" }),
    },
    config,
    101,
  );
  assert.deepStrictEqual(found.state.jobId, "41");
  assert.deepStrictEqual(found.state.phase, "running");
  assert.deepStrictEqual(kinds(found.effects), ["wait_healthy"]);
  // Not found: the submit never reached SLURM, so it is made again under a fresh key, same attempt.
  const absent = next(issued, { type: "observed", info: undefined }, config, 101);
  assert.deepStrictEqual(absent.effects[0], {
    type: "submit",
    key: "abc2",
    partition: { name: "gpu_a", qos: "normal" },
    port: 5900,
    attempt: 1,
  });
  // A lost reply asks for the same look-up.
  assert.deepStrictEqual(
    next(issued, { type: "submit_lost", error: "ssh dropped" }, config, 1).effects,
    [{
      type: "find",
      key: "abc1",
    }],
  );
});

Deno.test("a job missing from squeue and sacct waits out sacct's lag before it counts as lost", () => {
  const submitted = run(plannedJob("abc", "m", 0, 0), [
    [{ type: "start" }, 0],
    [{ type: "submitted", jobId: "41" }, 1],
  ]).state;
  const first = next(submitted, { type: "observed", info: undefined }, config, 2);
  assert.deepStrictEqual(first.state.phase, "submitted");
  assert.deepStrictEqual(first.effects, [{ type: "timer", atMs: 10_002 }]);
  const back = next(first.state, { type: "observed", info: info("PENDING") }, config, 3);
  assert.deepStrictEqual(back.state.missingSinceMs, undefined);
  const lost = next(first.state, { type: "observed", info: undefined }, config, 10_002);
  assert.deepStrictEqual(lost.state.phase, "backoff");
  assert(lost.state.lastError?.includes("vanished"));
});

Deno.test("a requeued job retires its backend and waits as pending", () => {
  const t = next(healthyJob(), { type: "observed", info: info("REQUEUED") }, config, 50);
  assert.deepStrictEqual(kinds(t.effects), ["retire"]);
  assert.deepStrictEqual(t.state.phase, "pending");
  assert.deepStrictEqual(t.state.endpoint, undefined);
});

Deno.test("reports about another job id are ignored", () => {
  const healthy = healthyJob();
  const t = next(
    healthy,
    { type: "observed", info: { ...info("FAILED"), jobId: "7" } },
    config,
    50,
  );
  assert.deepStrictEqual(t.state, healthy);
  assert.deepStrictEqual(t.effects, []);
});

Deno.test("resume after a restart waits for health again (a new tunnel, a new registration) and re-arms timers", () => {
  const healthy = healthyJob();
  const resumed = next(healthy, { type: "resume" }, config, 1_000);
  assert.deepStrictEqual(resumed.state.phase, "running");
  assert.deepStrictEqual(resumed.state.endpoint, undefined);
  assert.deepStrictEqual(resumed.effects, [{
    type: "wait_healthy",
    node: "localhost",
    port: 5901,
    deadlineMs: 21_000,
  }]);
  const failed = next(healthy, { type: "observed", info: info("FAILED") }, config, 100).state;
  assert.deepStrictEqual(next(failed, { type: "resume" }, config, 200).effects, [{
    type: "timer",
    atMs: 1_100,
  }]);
  const issued = next(plannedJob("abc", "m", 0, 0), { type: "start" }, config, 0).state;
  assert.deepStrictEqual(next(issued, { type: "resume" }, config, 5).effects, [{
    type: "find",
    key: "abc1",
  }]);
  const draining = next(healthy, { type: "stop" }, config, 10).state;
  assert.deepStrictEqual(next(draining, { type: "resume" }, config, 20).effects, [{
    type: "cancel",
    jobId: "41",
  }]);
  assert.deepStrictEqual(
    next(plannedJob("x", "m", 0, 0), { type: "resume" }, config, 0).effects,
    [],
  );
});

Deno.test("a job that died of a taken port before it was seen running moves on to the next port too", () => {
  const submitted = run(plannedJob("abc", "m", 0, 0), [
    [{ type: "start" }, 0],
    [{ type: "submitted", jobId: "41" }, 1],
  ]).state;
  const t = next(submitted, { type: "port_in_use" }, config, 2);
  assert.deepStrictEqual(kinds(t.effects), ["cancel", "submit"]);
  assert.deepStrictEqual(t.state.port, 5901);
  assert.match(t.state.lastError ?? "", /port 5900 was taken on its node/);
  // Asked to stop meanwhile: no resubmit.
  const stopping = next(submitted, { type: "stop" }, config, 2).state;
  assert.deepStrictEqual(next(stopping, { type: "port_in_use" }, config, 3).effects, []);
});

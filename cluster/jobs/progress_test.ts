import assert from "node:assert/strict";
import type { JobStatusRow } from "../../actors/job/types.ts";
import { changedLines, describeRow, startSettled, stopSettled } from "./progress.ts";

function row(overrides: Partial<JobStatusRow>): JobStatusRow {
  return {
    model: "m",
    replica: 0,
    jobId: undefined,
    kind: "slurm",
    phase: "planned",
    slurmState: undefined,
    partition: undefined,
    node: undefined,
    pendingReason: undefined,
    pendingGroup: undefined,
    sinceMs: 0,
    endpoint: undefined,
    health: "unknown",
    attempts: 0,
    lastError: undefined,
    ...overrides,
  };
}

Deno.test("startSettled() is done once queued, or with healthy once healthy; failed when given up", () => {
  assert.equal(startSettled(row({ phase: "submitted" }), false), "waiting");
  assert.equal(startSettled(row({ phase: "pending" }), false), "done");
  assert.equal(startSettled(row({ phase: "running" }), false), "done");
  assert.equal(startSettled(row({ phase: "running" }), true), "waiting");
  assert.equal(startSettled(row({ phase: "healthy" }), true), "done");
  assert.equal(startSettled(row({ phase: "backoff" }), false), "waiting");
  assert.equal(startSettled(row({ phase: "failed" }), true), "failed");
});

Deno.test("stopSettled() waits through draining and cancelling", () => {
  assert.equal(stopSettled(row({ phase: "draining" })), "waiting");
  assert.equal(stopSettled(row({ phase: "cancelling" })), "waiting");
  assert.equal(stopSettled(row({ phase: "cancelled" })), "done");
  assert.equal(stopSettled(row({ phase: "failed" })), "done");
});

Deno.test("describeRow() says the state, where it is, and a failure's error", () => {
  assert.equal(
    describeRow(row({
      phase: "pending",
      slurmState: "PENDING",
      jobId: "42",
      partition: "gpu_a",
      pendingReason: "Resources",
      pendingGroup: "resources",
    })),
    "m/0: pending (resources: Resources), job 42 on gpu_a",
  );
  assert.equal(
    describeRow(row({
      phase: "healthy",
      slurmState: "RUNNING",
      jobId: "42",
      partition: "gpu_a",
      node: "gpu07",
      endpoint: "http://127.0.0.1:41000",
    })),
    "m/0: healthy, job 42 on gpu_a node gpu07 at http://127.0.0.1:41000",
  );
  assert.equal(
    describeRow(row({ phase: "failed", lastError: "sbatch: error: Invalid qos specification" })),
    "m/0: failed: sbatch: error: Invalid qos specification",
  );
});

Deno.test("changedLines() prints a replica when it first shows and whenever it reads differently", () => {
  const seen = new Map<string, string>();
  const a = row({ phase: "submitted", jobId: "7" });
  const b = row({ replica: 1, phase: "submitted", jobId: "8" });
  assert.deepEqual(changedLines(seen, [a, b]), ["m/0: submitted, job 7", "m/1: submitted, job 8"]);
  assert.deepEqual(changedLines(seen, [a, b]), []);
  assert.deepEqual(changedLines(seen, [{ ...a, phase: "pending" }, b]), ["m/0: pending, job 7"]);
});

import assert from "node:assert/strict";
import type { JobStatusRow } from "../../actors/job/types.ts";
import { replicaTargets } from "./connect.ts";

function row(overrides: Partial<JobStatusRow>): JobStatusRow {
  return {
    model: "m",
    replica: 0,
    jobId: "7",
    kind: "slurm",
    phase: "healthy",
    slurmState: "RUNNING",
    partition: "gpu_a",
    node: "gpu01",
    pendingReason: undefined,
    pendingGroup: undefined,
    sinceMs: 0,
    endpoint: undefined,
    health: "healthy",
    attempts: 1,
    lastError: undefined,
    ...overrides,
  };
}

const MODELS = [{ name: "m", base_port: 5900 }];

Deno.test("replicaTargets() routes to running and healthy jobs on a known node only", () => {
  const targets = replicaTargets([
    row({ replica: 0 }),
    row({ replica: 1, phase: "running", health: "starting" }),
    row({ replica: 2, phase: "pending", node: undefined }),
    row({ replica: 3, phase: "draining" }),
    row({ replica: 4, phase: "running", node: undefined }),
    row({ model: "not-in-config" }),
  ], MODELS);
  assert.deepEqual(targets.map((t) => t.key), ["m/0@gpu01:5900", "m/1@gpu01:5901"]);
});

Deno.test("replicaTargets() takes the row's port, then its endpoint's on the node, then base_port + replica", () => {
  const [a, b, c] = replicaTargets([
    row({ replica: 0, port: 5907 }),
    row({ replica: 1, endpoint: "http://gpu01:5911" }),
    // A tunnel's local end is not the replica's port on its node.
    row({ replica: 2, endpoint: "http://127.0.0.1:40123" }),
  ], MODELS);
  assert.equal(a!.port, 5907);
  assert.equal(b!.port, 5911);
  assert.equal(c!.port, 5902);
});

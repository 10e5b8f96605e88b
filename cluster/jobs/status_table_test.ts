import assert from "node:assert/strict";
import type { JobStatusRow } from "../../actors/job/types.ts";
import {
  EMPTY_FLEET,
  formatSince,
  layoutTable,
  renderStatusTable,
  stateCell,
  STATUS_COLUMNS,
  truncate,
} from "./status_table.ts";

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);

function row(overrides: Partial<JobStatusRow> = {}): JobStatusRow {
  return {
    model: "m",
    replica: 0,
    jobId: "41",
    kind: "slurm",
    phase: "healthy",
    slurmState: "RUNNING",
    partition: "gpu_a",
    node: "localhost",
    pendingReason: undefined,
    pendingGroup: undefined,
    sinceMs: NOW - 180_000,
    endpoint: "http://localhost:5900",
    health: "healthy",
    attempts: 1,
    lastError: undefined,
    ...overrides,
  };
}

Deno.test("formatSince() says the time in one or two units", () => {
  assert.equal(formatSince(NOW - 45_000, NOW), "45s");
  assert.equal(formatSince(NOW - 180_000, NOW), "3m");
  assert.equal(formatSince(NOW - 3_600_000, NOW), "1h");
  assert.equal(formatSince(NOW - (2 * 3600 + 5 * 60) * 1000, NOW), "2h5m");
  assert.equal(formatSince(NOW - 28 * 3_600_000, NOW), "1d4h");
  assert.equal(formatSince(NOW - 48 * 3_600_000, NOW), "2d");
  assert.equal(formatSince(NOW + 5_000, NOW), "0s");
});

Deno.test("truncate() cuts with an ellipsis only when the text is too long", () => {
  assert.equal(truncate("short", 10), "short");
  assert.equal(truncate("exactly-10", 10), "exactly-10");
  assert.equal(truncate("a longer text", 6), "a lon…");
});

Deno.test("stateCell() shows the pending reason with its group, and SLURM's state when it differs", () => {
  assert.equal(stateCell(row()), "healthy");
  assert.equal(
    stateCell(row({
      phase: "pending",
      slurmState: "PENDING",
      pendingReason: "QOSMaxGRESPerUser",
      pendingGroup: "quota",
    })),
    "pending (quota: QOSMaxGRESPerUser)",
  );
  assert.equal(stateCell(row({ phase: "backoff", slurmState: "TIMEOUT" })), "backoff TIMEOUT");
  assert.equal(stateCell(row({ phase: "running", slurmState: "RUNNING" })), "running");
});

Deno.test("renderStatusTable() says how to start when the fleet is empty", () => {
  assert.equal(renderStatusTable([], { nowMs: NOW }), EMPTY_FLEET);
});

Deno.test("renderStatusTable() aligns every column to its widest cell, sorted by model and replica", () => {
  const text = renderStatusTable([
    row({ model: "zeta", replica: 1, jobId: "1234567", sinceMs: NOW - 5_000 }),
    row({ model: "zeta", replica: 0, jobId: "9" }),
    row({
      model: "alpha",
      replica: 0,
      jobId: undefined,
      phase: "planned",
      slurmState: undefined,
      partition: undefined,
      node: undefined,
      endpoint: undefined,
      health: "unknown",
    }),
  ], { nowMs: NOW });
  const lines = text.split("\n");
  assert.equal(lines.length, 4);
  assert.deepEqual(lines[0]!.split(/\s+/), [...STATUS_COLUMNS]);
  assert.match(lines[1]!, /^alpha\s+0\s+-\s+-\s+-\s+planned\s+3m\s+-\s+unknown$/);
  assert.match(lines[2]!, /^zeta\s+0\s+9\s/);
  assert.match(lines[3]!, /^zeta\s+1\s+1234567\s+gpu_a\s+localhost\s+healthy\s+5s\s/);
  // Each column starts at the same offset on every line.
  const at = (line: string, word: string) => line.indexOf(word);
  const jobColumn = at(lines[0]!, "JOB");
  assert.equal(at(lines[3]!, "1234567"), jobColumn);
  assert.equal(lines[2]!.indexOf("9", lines[0]!.indexOf("REPLICA") + 7), jobColumn);
  for (const line of lines) assert.equal(line, line.trimEnd());
});

Deno.test("renderStatusTable() cuts a long pending reason in the table and prints errors in full below", () => {
  const reason = "ReqNodeNotAvail,_UnavailableNodes:gpu[001-099],gpu[101-199]";
  const text = renderStatusTable([
    row({
      phase: "pending",
      slurmState: "PENDING",
      pendingReason: reason,
      pendingGroup: "resources",
      health: "unknown",
      endpoint: undefined,
    }),
    row({
      replica: 1,
      phase: "failed",
      slurmState: "FAILED",
      attempts: 5,
      lastError: "sbatch: error: Batch job submission failed: Invalid qos specification",
      health: "unhealthy",
    }),
  ], { nowMs: NOW, maxStateWidth: 30 });
  const [table, errors] = text.split("\n\n");
  const lines = table!.split("\n");
  assert.ok(lines[1]!.includes("  pending (resources: ReqNodeNo…  "), lines[1]);
  assert.ok(!lines[1]!.includes(reason), "the reason is cut in the table");
  assert.equal(
    errors,
    "m/1: last error (attempt 5): sbatch: error: Batch job submission failed: Invalid qos specification",
  );
});

Deno.test("layoutTable() pads ragged rows and trims trailing blanks", () => {
  assert.equal(layoutTable([["a", "bb"], ["ccc"]]), "a    bb\nccc");
});

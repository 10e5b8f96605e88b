import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { recordedSnapshot } from "./_fixtures.ts";
import { afterFailure, afterSnapshot, type FeedState } from "./poller.ts";
import { emptyHistory } from "./history.ts";
import { PANEL_IDS, viewModel } from "./view_model.ts";

const START: FeedState = {
  connection: { state: "connecting" },
  snapshot: undefined,
  history: emptyHistory(),
};

Deno.test("viewModel() shows each backend's health, load, latency, KV usage and prefix hits", async () => {
  const state = afterSnapshot(START, await recordedSnapshot(1_000));
  const vm = viewModel(state, 1_000);
  assertEquals(vm.panels.map((p) => p.id), [...PANEL_IDS]);
  const backends = vm.panels[0]!;
  assertEquals(backends.rows.map((r) => r.cells), [
    [
      "127.0.0.1:46185",
      "llama-3.1-8b-sim",
      "healthy",
      "3",
      "3/1",
      "22 ms",
      "38 ms",
      "42%",
      "25%",
    ],
    ["127.0.0.1:33551", "llama-3.1-8b-sim", "down/open", "0", "-", "-", "-", "-", "-"],
  ]);
  assertEquals(backends.rows.map((r) => r.tone), ["ok", "bad"]);
  assert(backends.rows[1]!.detail.includes("last error: connection refused"));
  assertEquals(backends.rows[0]!.sparks, { load: [4], ttft: [21.5] });
  assertEquals(vm.connection.text, "connected");
  assert(vm.header[0]!.startsWith("status degraded  turnpike 0.1.0  up 2m  kv 0.8 ms"));
  assert(vm.header[1]!.includes("requests 41 (2xx 40 5xx 1)"), vm.header[1]);
});

Deno.test("viewModel() shows the admission queue per model with its per-backend limits", async () => {
  const vm = viewModel(afterSnapshot(START, await recordedSnapshot(1_000)), 1_000);
  const queue = vm.panels.find((p) => p.id === "queue")!;
  assertEquals(queue.rows.map((r) => r.cells), [[
    "llama-3.1-8b-sim",
    "2",
    "4",
    "0",
    "1",
    "0",
    "16",
  ]]);
  assertEquals(queue.rows[0]!.tone, "warn");
  assertEquals(queue.rows[0]!.detail, [
    "limit 8 concurrent on 127.0.0.1:33551",
    "limit 8 concurrent on 127.0.0.1:46185",
  ]);
});

Deno.test("viewModel() says in the panel when the gateway has no such endpoint", async () => {
  const vm = viewModel(afterSnapshot(START, await recordedSnapshot(1_000)), 1_000);
  const jobs = vm.panels.find((p) => p.id === "jobs")!;
  assertEquals(jobs.rows, []);
  assertEquals(jobs.note, "GET /api/jobs is not on this gateway (404)");
  assertEquals(
    vm.panels.find((p) => p.id === "sessions")!.note,
    "GET /api/sessions is not on this gateway (404)",
  );
});

Deno.test("viewModel() shows a failed endpoint's error and an admin-key hint on 401", async () => {
  const snapshot = await recordedSnapshot(1_000, {
    backends: { body: { error: { message: "Missing API key" } }, status: 401 },
    slo: { body: { unexpected: true } },
  });
  const vm = viewModel(afterSnapshot(START, snapshot), 1_000);
  assertEquals(
    vm.panels[0]!.note,
    "GET /api/backends failed: HTTP 401: Missing API key (pass the admin key: TURNPIKE_ADMIN_KEY or --admin-key)",
  );
  assert(
    vm.panels.find((p) => p.id === "slo")!.note!.startsWith("GET /api/slo failed: unexpected"),
  );
});

Deno.test("viewModel() lists jobs with their phase, place and time in phase", async () => {
  const job = {
    model: "m",
    replica: 0,
    jobId: "42",
    kind: "slurm",
    phase: "pending",
    slurmState: "PENDING",
    partition: "gpu_a",
    sinceMs: 1_000,
    health: "unknown",
    attempts: 1,
    pendingReason: "Resources",
  };
  const snapshot = await recordedSnapshot(0, { jobs: { body: { jobs: [job] } } });
  const vm = viewModel(afterSnapshot(START, snapshot), 91_000);
  const jobs = vm.panels.find((p) => p.id === "jobs")!;
  assertEquals(jobs.rows[0]!.cells, [
    "m",
    "0",
    "slurm",
    "42",
    "pending (PENDING)",
    "unknown",
    "gpu_a",
    "1m",
  ]);
  assert(jobs.rows[0]!.detail.includes("pending: Resources"));
});

Deno.test("viewModel() keeps the last figures while disconnected and says when it retries", async () => {
  const connected = afterSnapshot(START, await recordedSnapshot(1_000));
  const down = afterFailure(
    afterFailure(connected, "Connection refused", 2_000),
    "Connection refused",
    3_000,
  );
  const vm = viewModel(down, 3_000);
  assertEquals(vm.connection.state, "disconnected");
  assertEquals(vm.connection.text, "disconnected (Connection refused); retry 2 in 1s");
  assertEquals(vm.panels[0]!.rows.length, 2);
});

Deno.test("viewModel() charts load and TTFT per backend on the history's times", async () => {
  let state = afterSnapshot(START, await recordedSnapshot(1_000));
  state = afterSnapshot(state, await recordedSnapshot(3_000));
  const { charts } = viewModel(state, 3_000);
  assertEquals(charts.timesMs, [1_000, 3_000]);
  assertEquals(charts.load.map((s) => [s.name, s.values]), [
    ["127.0.0.1:46185", [4, 4]],
    ["127.0.0.1:33551", [0, 0]],
  ]);
  assertEquals(charts.ttft[1], { name: "127.0.0.1:33551", values: [null, null] });
});

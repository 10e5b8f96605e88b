import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { recordedSnapshot, STATS } from "./_fixtures.ts";
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

const BOTTLENECKS = {
  window_s: 900,
  filters: { session: null, task: null, model: null },
  turns: 6,
  wall_ms: 1155.04,
  components: [
    {
      component: "decode",
      share: 0.8155,
      total_ms: 941.97,
      p50_ms: 156.88,
      p95_ms: 159.44,
      turns: 6,
    },
    {
      component: "network",
      share: 0.1236,
      total_ms: 142.73,
      p50_ms: 23.77,
      p95_ms: 27.97,
      turns: 6,
    },
    { component: "agent_pre", share: 0, total_ms: 0, p50_ms: null, p95_ms: null, turns: 0 },
  ],
  findings: [{
    rule: "decode_bound",
    severity: "warning",
    model: "llama-3.1-8b-sim",
    cause: "Decode is 82% of turn time on model llama-3.1-8b-sim",
    recommendation: "Cap max_tokens where the agent allows",
    evidence: { decode_share: 0.816, batch_p50: 0 },
  }],
};

Deno.test("viewModel() ranks where turn time went and lists each finding with its recommendation", async () => {
  const snapshot = await recordedSnapshot(1_000, { bottlenecks: { body: BOTTLENECKS } });
  const panel = viewModel(afterSnapshot(START, snapshot), 1_000).panels.find((p) =>
    p.id === "bottlenecks"
  )!;
  assertEquals(panel.summary, [
    "where 6 turns' 1.2 s went over 15m: decode 82% (p95 159 ms)  network 12% (p95 28 ms)",
  ]);
  assertEquals(panel.rows[0]!.cells, [
    "warning",
    "decode_bound",
    "llama-3.1-8b-sim",
    "Decode is 82% of turn time on model llama-3.1-8b-sim",
    "Cap max_tokens where the agent allows",
  ]);
  assertEquals(panel.rows[0]!.tone, "warn");
  assert(panel.rows[0]!.detail.includes("evidence: decode_share 0.816  batch_p50 0"));
});

Deno.test("viewModel() lists sessions with their turns from the latest records", async () => {
  const session = {
    session_id: "s-1",
    task_id: "t-9",
    client_id: null,
    model: "llama-3.1-8b-sim",
    turns: 1,
    first_turn_at: "2026-12-03T09:00:00.000Z",
    last_turn_at: "2026-12-03T09:00:00.000Z",
    last_turn_ms: 48.2,
    prompt_tokens: 36,
    completion_tokens: 5,
    backend: "127.0.0.1:33551",
    errors: 0,
  };
  const stats = structuredClone(STATS);
  stats.recent[0] = {
    ...stats.recent[0]!,
    sessionId: "s-1",
    startedAtMs: Date.parse(session.last_turn_at),
  } as typeof stats.recent[0];
  const snapshot = await recordedSnapshot(0, {
    sessions: { body: { object: "list", total: 1, data: [session], has_more: false } },
    stats: { body: stats },
  });
  const panel = viewModel(afterSnapshot(START, snapshot), Date.parse(session.last_turn_at) + 65_000)
    .panels.find((p) => p.id === "sessions")!;
  assertEquals(panel.rows[0]!.cells, [
    "s-1",
    "t-9",
    "llama-3.1-8b-sim",
    "1",
    "48 ms",
    "1m ago",
    "36/5",
    "0",
    "127.0.0.1:33551",
  ]);
  assertEquals(panel.rows[0]!.detail[1], "turn 09:00:00.000  status 200  48 ms  ttft -  on -");
});

Deno.test("viewModel() shows each SLO objective's burn and the routing in force with its canary", async () => {
  const slo = {
    models: [{
      model: "m",
      window_s: 300,
      burn: 2.5,
      objectives: [
        {
          objective: "ttft_p95",
          target: 500,
          value: 812.3,
          burn: 2.5,
          violated: true,
          samples: 40,
          violations_total: 1,
        },
        {
          objective: "error_rate",
          target: 0.01,
          value: 0,
          burn: 0,
          violated: false,
          samples: 40,
          violations_total: 0,
        },
      ],
    }],
  };
  const routing = {
    models: [{
      model: "m",
      strategy: "prefix_aware",
      canary: {
        strategy: { least_loaded: 0.7, round_robin: 0.3 },
        share: 0.1,
        window_s: 60,
        started_at: "2026-12-03T09:00:00.000Z",
        ends_at: "2026-12-03T09:01:00.000Z",
        canary_burn: 0.5,
        incumbent_burn: 0.25,
        canary_requests: 3,
        incumbent_requests: 30,
      },
      history: [],
    }],
  };
  const snapshot = await recordedSnapshot(0, { slo: { body: slo }, routing: { body: routing } });
  const vm = viewModel(afterSnapshot(START, snapshot), 0);
  const panel = vm.panels.find((p) => p.id === "slo")!;
  assertEquals(panel.rows.map((r) => [r.cells, r.tone]), [
    [["m", "ttft_p95", "500 ms", "812 ms", "2.50", "VIOLATED", "40", "1"], "bad"],
    [["m", "error_rate", "1%", "0%", "0.00", "met", "40", "0"], "ok"],
  ]);
  assert(
    vm.header.includes(
      "routing m: prefix_aware  canary least_loaded 0.7 + round_robin 0.3 on 10% of sessions until 09:01:00 (burn 0.50 vs 0.25)",
    ),
    vm.header.join("\n"),
  );
});

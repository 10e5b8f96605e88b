/**
 * Run-time routing changes through `POST /api/routing` on a real gateway over two simulated
 * replicas, one of them slow to its first token: a canary that sends half its sessions to the
 * slow one burns the TTFT objective and is rolled back; one that avoids it is promoted.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { MODEL, startRig, type TestRig } from "../gateway/testing.ts";
import { type SimServer, startSimulator } from "../sim/mod.ts";
import { waitFor } from "../actors/runtime/testdata/wait.ts";
import type { RoutingResponse, SloResponse } from "../proxy/admin/api_types.ts";

const SESSIONS = Array.from({ length: 64 }, (_, i) => `canary-session-${i}`);

/** A fast replica and one whose prefill takes 20 simulated seconds (1 s at 20x). */
async function startSims(): Promise<SimServer[]> {
  const common = { port: 0, timeScale: 20, tokenizer: "approx" as const };
  return [
    await startSimulator({ ...common, seed: 1 }),
    await startSimulator({ ...common, seed: 2, latency: { prefillFixedMs: 20_000 } }),
  ];
}

/**
 * Runs `test` on a gateway over a fast and a slow simulated replica with `strategy` and a TTFT
 * objective evaluated every 0.25 s, then closes the gateway and the replicas (also on failure).
 */
async function withRig(strategy: string, test: (rig: TestRig) => Promise<void>): Promise<void> {
  const sims = await startSims();
  try {
    const rig = await startRig({
      replicas: 0,
      listSims: false,
      models: [{ name: MODEL, endpoints: sims.map((s) => s.url) }],
      proxy: { strategy },
      admission: { enabled: false },
      slo: {
        evaluate_interval: 0.25,
        window: 60,
        canary_min_requests: 5,
        models: { [MODEL]: { ttft_p95_ms: 400, error_rate: 0.5 } },
      },
    });
    try {
      await test(rig);
    } finally {
      await rig.close();
    }
  } finally {
    await Promise.all(sims.map((s) => s.close()));
  }
}

/** Streams one short turn of session `i`. */
async function turn(rig: TestRig, i: number): Promise<void> {
  const stream = await rig.client.chat.completions.create({
    model: MODEL,
    messages: [{ role: "user", content: `turn ${i}` }],
    max_tokens: 4,
    stream: true,
  }, { headers: { "X-Session-ID": SESSIONS[i % SESSIONS.length]! } });
  for await (const _ of stream) { /* read to the end */ }
}

async function routing(rig: TestRig): Promise<RoutingResponse> {
  const response = await fetch(`${rig.gateway.url}/api/routing`);
  assertEquals(response.status, 200);
  return await response.json();
}

async function post(rig: TestRig, body: unknown): Promise<Response> {
  return await fetch(`${rig.gateway.url}/api/routing`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** Sends turns, eight at a time, until `done` holds (or 60 s pass). */
async function trafficUntil(rig: TestRig, done: () => Promise<boolean>): Promise<void> {
  let stop = false;
  let i = 0;
  const workers = Array.from({ length: 8 }, async () => {
    while (!stop) await turn(rig, i++);
  });
  try {
    await waitFor("the canary to be judged", done, { timeoutMs: 60_000 });
  } finally {
    stop = true;
    await Promise.all(workers);
  }
}

/** Runs a canary of `canary` against the rig's incumbent until it is judged; returns the model's state. */
async function judged(rig: TestRig, canary: string) {
  // Warm up: both replicas get TTFT samples, so least_latency knows the slow one.
  await Promise.all(Array.from({ length: 8 }, (_, i) => turn(rig, i)));
  const started = await post(rig, {
    model: MODEL,
    strategy: canary,
    canary_share: 0.5,
    canary_window: "6s",
  });
  assertEquals(started.status, 200, await started.clone().text());
  const body: RoutingResponse = await started.json();
  assertEquals(body.models[0]?.canary?.strategy, canary);
  assertEquals(body.models[0]?.canary?.share, 0.5);
  await trafficUntil(rig, async () => (await routing(rig)).models[0]?.canary === null);
  return (await routing(rig)).models[0]!;
}

Deno.test("a canary that routes half its sessions to the slow replica burns the TTFT objective and is rolled back", () =>
  withRig("least_latency", async (rig) => {
    const state = await judged(rig, "round_robin");
    assertEquals(state.strategy, "least_latency");
    const [event] = state.history;
    assertEquals([event?.kind, event?.from, event?.to], [
      "rolled_back",
      "round_robin",
      "least_latency",
    ]);
    assert(event!.canary_burn! > event!.incumbent_burn!, JSON.stringify(event));
    assert(/SLO burn [\d.]+ against the incumbent's [\d.]+/.test(event!.reason), event!.reason);
    const slo: SloResponse = await (await fetch(`${rig.gateway.url}/api/slo`)).json();
    assertEquals(slo.models[0]?.model, MODEL);
    assertEquals(slo.models[0]?.objectives.map((o) => o.objective), ["ttft_p95", "error_rate"]);
    const metrics = await (await fetch(`${rig.gateway.url}/metrics`)).text();
    assert(
      metrics.includes(
        `turnpike_routing_changes_total{model="${MODEL}",kind="rolled_back"} 1`,
      ),
      metrics,
    );
    assert(metrics.includes(`turnpike_slo_burn_rate{model="${MODEL}",objective="ttft_p95"}`));
    assert(
      metrics.includes(`turnpike_slo_violations_total{model="${MODEL}",objective="ttft_p95"}`),
    );
  }));

Deno.test("a canary that avoids the slow replica burns less than the incumbent and is promoted", () =>
  withRig("round_robin", async (rig) => {
    const state = await judged(rig, "least_latency");
    assertEquals(state.strategy, "least_latency");
    const [event] = state.history;
    assertEquals([event?.kind, event?.to], ["promoted", "least_latency"]);
    assert(event!.canary_burn! < event!.incumbent_burn!, JSON.stringify(event));
  }));

Deno.test("POST /api/routing switches every model at once, and refuses bad changes with OpenAI-shaped errors", () =>
  withRig("round_robin", async (rig) => {
    const set = await post(rig, { strategy: { least_load: 1, prefix_aware: 2 } });
    assertEquals(set.status, 200);
    const state = (await set.json() as RoutingResponse).models[0]!;
    assertEquals(state.strategy, { least_load: 1, prefix_aware: 2 });
    assertEquals(state.history[0]?.kind, "set");
    await turn(rig, 0);
    for (
      const [body, status, param] of [
        [{ strategy: "fastest" }, 400, "strategy"],
        [{ strategy: "round_robin", canary_share: 1.5, model: MODEL }, 400, "canary_share"],
        [{ strategy: "round_robin", canary_share: 0.2 }, 400, "model"],
        [{ strategy: "round_robin", canary_window: 30 }, 400, "canary_window"],
        [{ strategy: "round_robin", model: "nope" }, 404, "model"],
        [{ strategy: "round_robin", weights: {} }, 400, "weights"],
      ] as const
    ) {
      const response = await post(rig, body);
      assertEquals(response.status, status, JSON.stringify(body));
      const { error } = await response.json();
      assertEquals(error.param, param, JSON.stringify(body));
      assert(error.message.length > 0);
    }
    const malformed = await fetch(`${rig.gateway.url}/api/routing`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{",
    });
    assertEquals(malformed.status, 400);
  }));

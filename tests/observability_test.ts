/** `/metrics` and `/health/detailed` of a real gateway over simulated replicas, driven with the OpenAI SDK; the text checked by promtool. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import OpenAI from "openai";
import { chat, MODEL, startRig } from "../gateway/testing.ts";
import { waitFor } from "../actors/runtime/testdata/wait.ts";
import { promtool } from "./promtool.ts";

const SESSION = "sess-4f0c9e2a-observability";
const TASK = "task-77aa-observability";
const CLIENT = "client-secretive-observability";

/** The value of the sample `name{labels}` whose labels include every pair of `labels`; summed over matches. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  let found = false;
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const set = match[2] ?? "";
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) {
      total += Number(match[3]);
      found = true;
    }
  }
  return found ? total : NaN;
}

/** Every label value in the exposition. */
function labelValues(text: string): string[] {
  const values: string[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    for (const m of line.matchAll(/[a-z_]+="([^"]*)"/g)) values.push(m[1]!);
  }
  return values;
}

Deno.test("/metrics after SDK traffic passes promtool, moves the counters and histograms, and has no session, task or client label", async () => {
  const rig = await startRig({ admission: { enabled: true } });
  try {
    const headers = {
      "X-Session-ID": SESSION,
      "X-Task-ID": TASK,
      "X-Client-ID": CLIENT,
    };
    const client = new OpenAI({
      baseURL: `${rig.gateway.url}/v1`,
      apiKey: "sk-observability-secret-key",
      maxRetries: 0,
      defaultHeaders: headers,
    });
    for (let i = 0; i < 3; i++) {
      await client.chat.completions.create(chat(`Plain call ${i}`));
    }
    const stream = await client.chat.completions.create({
      ...chat("A streamed call", { max_tokens: 12 }),
      stream: true,
    });
    let chunks = 0;
    for await (const _ of stream) chunks++;
    assert(chunks > 1);
    // A model name the client made up is counted as unknown, never as a label of its own.
    const unknownModel = "made-up-model-4f0c9e2a";
    await client.chat.completions.create({ ...chat("x"), model: unknownModel }).then(
      () => assert(false, "an unknown model was served"),
      (error) => assertEquals(error.status, 404),
    );

    // A backend's in-flight count reaches its actor's report by message, after the answer ended.
    await waitFor(
      "the backends' reports to show nothing in flight",
      () => rig.gateway.fleet.backends().every((b) => (b.report?.inFlight ?? 0) === 0),
    );
    const response = await fetch(`${rig.gateway.url}/metrics`);
    assertEquals(response.status, 200);
    assert(response.headers.get("content-type")?.startsWith("text/plain"));
    const text = await response.text();

    const checked = await promtool(text);
    assertEquals(checked.code, 0, checked.output);

    const ok = { model: MODEL, route: "/v1/chat/completions", status: "2xx" };
    assertEquals(sample(text, "turnpike_requests_total", ok), 4);
    assertEquals(
      sample(text, "turnpike_requests_total", { model: "unknown", status: "4xx" }),
      1,
    );
    assertEquals(
      sample(text, "turnpike_refusals_total", { model: "unknown", code: "model_not_found" }),
      1,
    );
    assertEquals(sample(text, "turnpike_e2e_request_latency_seconds_count", { model: MODEL }), 4);
    assertEquals(
      sample(text, "turnpike_upstream_time_to_first_token_seconds_count", { model: MODEL }),
      1,
    );
    assertEquals(
      sample(text, "turnpike_upstream_time_per_output_token_seconds_count", { model: MODEL }),
      1,
    );
    assertEquals(
      sample(text, "turnpike_gateway_queue_time_seconds_count", { model: MODEL }),
      4,
    );
    assert(sample(text, "turnpike_prompt_tokens_total", { model: MODEL }) > 0, text);
    assert(sample(text, "turnpike_generation_tokens_total", { model: MODEL }) > 0, text);
    assertEquals(
      sample(text, "turnpike_routing_decisions_total", { model: MODEL, outcome: "routed" }),
      4,
    );
    // vLLM's TTFT boundaries, so the gateway's buckets line up with the replicas' own.
    assert(text.includes('turnpike_upstream_time_to_first_token_seconds_bucket{le="2560"'), text);
    assert(text.includes('turnpike_e2e_request_latency_seconds_bucket{le="7680"'), text);
    // State read at scrape time: every backend with its circuit, in-flight and health.
    for (const sim of rig.sims) {
      const backend = new URL(sim.url).host;
      assertEquals(
        sample(text, "turnpike_backend_circuit_state", { backend, state: "closed" }),
        1,
      );
      assertEquals(sample(text, "turnpike_backend_in_flight", { backend }), 0);
      assertEquals(sample(text, "turnpike_backend_healthy", { backend }), 1);
    }
    assertEquals(
      sample(text, "turnpike_admission_queue_depth", { model: MODEL, priority: "high" }),
      0,
    );
    assertEquals(sample(text, "turnpike_actor_restarts_total"), 0);
    assert(sample(text, "turnpike_sessions_active") >= 0, "no sessions gauge");
    assert(sample(text, "turnpike_process_resident_memory_bytes") > 1_000_000, text);

    const values = labelValues(text);
    for (const secret of [SESSION, TASK, CLIENT, "sk-observability-secret-key", unknownModel]) {
      assert(!text.includes(secret), `${secret} is in /metrics`);
    }
    assert(!values.some((v) => v.includes("Plain call")), "a prompt is a label value");
  } finally {
    await rig.close();
  }
});

Deno.test("/health/detailed lists every backend, probes the KV store, shows the supervision tree and answers 503 once no backend is left", async () => {
  const rig = await startRig();
  try {
    await rig.client.chat.completions.create(chat("warm up"));
    const session = await fetch(`${rig.gateway.url}/v1/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, ttl_seconds: 60 }),
    });
    assertEquals(session.status, 201, await session.clone().text());
    const sessionId: string = (await session.json()).id;
    const metrics = await (await fetch(`${rig.gateway.url}/metrics`)).text();
    assertEquals(sample(metrics, "turnpike_sessions_active"), 1);
    assert(!metrics.includes(sessionId), "a session id is in /metrics");
    const response = await fetch(`${rig.gateway.url}/health/detailed`);
    assertEquals(response.status, 200);
    const body = await response.json();
    assertEquals(body.status, "healthy");
    assert(/^[0-9a-f]{64}$/.test(body.config_digest), body.config_digest);
    assert(body.uptime_s >= 0);
    assertEquals(body.jobs, []);
    assertEquals(body.kv.reachable, true);
    assert(typeof body.kv.latency_ms === "number");
    assertEquals(
      body.backends.map((b: { url: string }) => b.url).sort(),
      rig.sims.map((s) => s.url).sort(),
    );
    for (const backend of body.backends) {
      assertEquals(backend.circuit, "closed");
      assertEquals(backend.healthy, true);
      assertEquals(backend.source, "static");
      assert(backend.kv_cache_usage === null || typeof backend.kv_cache_usage === "number");
    }
    const addresses = JSON.stringify(body.actors.supervision);
    assert(addresses.includes(`router/${MODEL}`), addresses);
    assertEquals(body.actors.restarts, 0);
    const cheap = await fetch(`${rig.gateway.url}/health`);
    assertEquals(cheap.status, 200);
    await cheap.body?.cancel();

    await Promise.all(rig.sims.map((s) => s.close()));
    let last: { status: number; body: { status: string } } | undefined;
    for (let i = 0; i < 100; i++) {
      // The backends' probes notice the replicas are gone; a request makes them fail sooner.
      await rig.client.chat.completions.create(chat("gone")).catch(() => {});
      const r = await fetch(`${rig.gateway.url}/health/detailed`);
      last = { status: r.status, body: await r.json() };
      if (last.status === 503) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assertEquals(last?.status, 503, JSON.stringify(last?.body));
    assertEquals(last?.body.status, "unhealthy");
  } finally {
    await rig.gateway.close({ deadlineMs: 2_000 });
    await Deno.remove(rig.config.state_dir, { recursive: true });
  }
});

Deno.test("with auth on, /metrics and /health stay public and /health/detailed is for the admin key", async () => {
  const adminKey = "admin-key-observability-0123456789";
  const rig = await startRig({ auth: { enabled: true, admin_key: adminKey } });
  try {
    const url = rig.gateway.url;
    const created = await fetch(`${url}/api/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "obs", client_id: "team-obs" }),
    });
    assertEquals(created.status, 201);
    const { key } = await created.json();
    for (const path of ["/metrics", "/health"]) {
      const r = await fetch(`${url}${path}`);
      assertEquals(r.status, 200, path);
      await r.body?.cancel();
    }
    const anonymous = await fetch(`${url}/health/detailed`);
    assertEquals(anonymous.status, 401);
    assertEquals((await anonymous.json()).error.code, "invalid_api_key");
    const client = await fetch(`${url}/health/detailed`, {
      headers: { authorization: `Bearer ${key}` },
    });
    assertEquals(client.status, 403);
    await client.body?.cancel();
    const admin = await fetch(`${url}/health/detailed`, {
      headers: { authorization: `Bearer ${adminKey}` },
    });
    assertEquals(admin.status, 200);
    assertEquals((await admin.json()).status, "healthy");
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert(!metrics.includes(adminKey) && !metrics.includes(key), "a key is in /metrics");
    assert(!metrics.includes("team-obs"), "a client id is in /metrics");
  } finally {
    await rig.close();
  }
});

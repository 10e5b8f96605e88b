/** `GET /api/bottlenecks` and `GET /api/sessions` of a real gateway over simulated replicas, after OpenAI SDK traffic with the session and timing headers. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { chat, MODEL, startRig } from "../gateway/testing.ts";
import type { BottlenecksResponse, SessionsResponse } from "../proxy/admin/api_types.ts";

const SESSIONS = ["analysis-session-a", "analysis-session-b"];

Deno.test("/api/bottlenecks splits streamed turns into agent, gateway, network, replica and decode time and names the agent as the bottleneck", async () => {
  const rig = await startRig({ replicas: 2 });
  try {
    for (let i = 0; i < 8; i++) {
      const stream = await rig.client.chat.completions.create({
        ...chat(`turn ${i} of an agent that runs tools`),
        max_tokens: 8,
        stream: true,
      }, {
        headers: {
          "X-Session-ID": SESSIONS[i % 2]!,
          "X-Task-ID": "analysis-task",
          "X-Timing-Pre-Ms": "2000",
          "X-Timing-Post-Ms": "1000",
        },
      });
      for await (const _ of stream) { /* read to the end */ }
    }
    const response = await fetch(`${rig.gateway.url}/api/bottlenecks?window=5m&task=analysis-task`);
    assertEquals(response.status, 200);
    const body: BottlenecksResponse = await response.json();
    assertEquals(body.turns, 8);
    assertEquals(body.window_s, 300);
    assertEquals(body.filters, { session: null, task: "analysis-task", model: null });
    assertEquals(body.components[0]?.component, "agent_pre");
    const byName = Object.fromEntries(body.components.map((c) => [c.component, c]));
    assertEquals(byName.agent_pre?.p50_ms, 2000);
    assertEquals(byName.agent_post?.p95_ms, 1000);
    for (const part of ["gateway", "network", "prefill", "decode"]) {
      assertEquals(byName[part]?.turns, 8, part);
    }
    const shares = body.components.reduce((sum, c) => sum + c.share, 0);
    assert(Math.abs(shares - 1) < 0.01, String(shares));
    assertEquals(body.findings[0]?.rule, "agent_bound");
    assertEquals(body.findings[0]?.model, MODEL);

    const one = await fetch(`${rig.gateway.url}/api/bottlenecks?session=${SESSIONS[0]}`);
    assertEquals((await one.json() as BottlenecksResponse).turns, 4);
    const none = await fetch(`${rig.gateway.url}/api/bottlenecks?model=other-model`);
    assertEquals(await none.json().then((b: BottlenecksResponse) => [b.turns, b.findings]), [
      0,
      [],
    ]);

    const sessions = await fetch(`${rig.gateway.url}/api/sessions?limit=1`);
    assertEquals(sessions.status, 200);
    const page: SessionsResponse = await sessions.json();
    assertEquals([page.total, page.data.length, page.has_more], [2, 1, true]);
    assertEquals(page.data[0]?.turns, 4);
    assertEquals(page.data[0]?.task_id, "analysis-task");
    assert(page.data[0]?.backend?.startsWith("127.0.0.1:"));
    const next = await fetch(`${rig.gateway.url}/api/sessions?limit=1&cursor=${page.next_cursor}`);
    const rest: SessionsResponse = await next.json();
    assertEquals(rest.has_more, false);
    assertEquals(new Set([page.data[0]?.session_id, rest.data[0]?.session_id]), new Set(SESSIONS));
  } finally {
    await rig.close();
  }
});

Deno.test("/api/bottlenecks and /api/sessions answer an OpenAI-shaped 400 naming a bad query parameter", async () => {
  const rig = await startRig({ replicas: 1 });
  try {
    for (
      const [path, param] of [
        ["/api/bottlenecks?window=forever", "window"],
        ["/api/bottlenecks?window=0s", "window"],
        ["/api/bottlenecks?window=48h", "window"],
        ["/api/bottlenecks?scope=everywhere", "scope"],
        ["/api/bottlenecks?colour=red", "colour"],
        ["/api/sessions?limit=0", "limit"],
        ["/api/sessions?cursor=c12", "cursor"],
        ["/api/sessions?active_within=1y", "active_within"],
      ] as const
    ) {
      const response = await fetch(`${rig.gateway.url}${path}`);
      assertEquals(response.status, 400, path);
      const { error } = await response.json();
      assertEquals([error.type, error.param], ["invalid_request_error", param], path);
      assert(typeof error.message === "string" && error.message.length > 0);
    }
  } finally {
    await rig.close();
  }
});

Deno.test("with auth on, the analysis and routing routes answer the admin key only", async () => {
  const adminKey = "admin-key-analysis-0123456789";
  const rig = await startRig({ replicas: 1, auth: { enabled: true, admin_key: adminKey } });
  try {
    const url = rig.gateway.url;
    const created = await fetch(`${url}/api/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "analyst", client_id: "team-analysis" }),
    });
    assertEquals(created.status, 201);
    const { key } = await created.json();
    for (const path of ["/api/bottlenecks", "/api/sessions", "/api/slo", "/api/routing"]) {
      const anonymous = await fetch(`${url}${path}`);
      assertEquals(anonymous.status, 401, path);
      await anonymous.body?.cancel();
      const client = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${key}` } });
      assertEquals(client.status, 403, path);
      await client.body?.cancel();
      const admin = await fetch(`${url}${path}`, {
        headers: { authorization: `Bearer ${adminKey}` },
      });
      assertEquals(admin.status, 200, path);
      await admin.body?.cancel();
    }
    const change = await fetch(`${url}/api/routing`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ strategy: "round_robin" }),
    });
    assertEquals(change.status, 403);
    await change.body?.cancel();
  } finally {
    await rig.close();
  }
});

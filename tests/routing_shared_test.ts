/**
 * Run-time routing shared by two gateway processes' worth of gateways on one KV file (two
 * gateways in this process, each with its own actor system): a change through one reaches the
 * other, a canary routes alike on both and the one that started it judges it.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import OpenAI from "openai";
import { MODEL, startRig } from "../gateway/testing.ts";
import { startGateway } from "../gateway/gateway.ts";
import { waitFor } from "../actors/runtime/testdata/wait.ts";
import { sessionPoint } from "../actors/router/switchable_picker.ts";
import type { RoutingModelState, RoutingResponse } from "../proxy/admin/api_types.ts";

async function routingOf(url: string): Promise<RoutingModelState> {
  const body: RoutingResponse = await (await fetch(`${url}/api/routing`)).json();
  return body.models.find((m) => m.model === MODEL)!;
}

async function post(url: string, body: unknown): Promise<void> {
  const response = await fetch(`${url}/api/routing`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assertEquals(response.status, 200, await response.text());
}

Deno.test("a routing change and a canary made through one gateway reach another on the same KV file; one started on another proxy.strategy keeps its own", async () => {
  const rig = await startRig({
    replicas: 2,
    proxy: { strategy: "round_robin", registration_sync_interval: 0.2 },
    slo: {
      evaluate_interval: 0.2,
      canary_min_requests: 1,
      models: { [MODEL]: { error_rate: 0.5 } },
    },
  });
  const other = await startGateway(rig.config, { port: 0, hostname: "127.0.0.1" });
  const foreign = await startGateway(
    { ...rig.config, proxy: { ...rig.config.proxy, strategy: "least_load" } },
    { port: 0, hostname: "127.0.0.1" },
  );
  try {
    await post(rig.gateway.url, { model: MODEL, strategy: "least_connections" });
    await waitFor(
      "the change to reach the other gateway",
      async () => (await routingOf(other.url)).strategy === "least_connections",
    );
    assertEquals((await routingOf(other.url)).history[0]?.kind, "set");

    await post(rig.gateway.url, {
      model: MODEL,
      strategy: "consistent_hash",
      canary_share: 0.5,
      canary_window: 2,
    });
    const started = await waitFor(
      "the canary to reach the other gateway",
      async () => (await routingOf(other.url)).canary ?? undefined,
    );
    assertEquals([started.strategy, started.share], ["consistent_hash", 0.5]);
    // The other gateway routes a canary session with the canary's strategy.
    const session = Array.from({ length: 100 }, (_, i) => `shared-${i}`).find((s) =>
      sessionPoint(s) < 0.5
    )!;
    const client = new OpenAI({ baseURL: `${other.url}/v1`, apiKey: "test", maxRetries: 0 });
    for (let i = 0; i < 3; i++) {
      await client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: `shared ${i}` }],
        max_tokens: 2,
      }, { headers: { "X-Session-ID": session } });
      await rig.client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: `origin ${i}` }],
        max_tokens: 2,
      }, { headers: { "X-Session-ID": i % 2 === 0 ? session : "shared-incumbent-x" } });
    }
    const [last] = other.records.recent({ limit: 1 });
    assertEquals([last?.routeStrategy, last?.routeArm], ["consistent_hash", "canary"]);

    // The gateway that started it judges it; the verdict reaches the other.
    const judged = await waitFor("the verdict to reach the other gateway", async () => {
      const state = await routingOf(other.url);
      return state.canary === null && state.history[0]?.kind !== "canary_started"
        ? state
        : undefined;
    }, { timeoutMs: 30_000 });
    const origin = await routingOf(rig.gateway.url);
    assertEquals(judged.strategy, origin.strategy);
    assertEquals(judged.history[0], origin.history[0]);
    assert(["promoted", "rolled_back"].includes(judged.history[0]!.kind));

    const own = await routingOf(foreign.url);
    assertEquals([own.strategy, own.canary, own.history], ["least_load", null, []]);
  } finally {
    await foreign.close({ deadlineMs: 2_000 });
    await other.close({ deadlineMs: 2_000 });
    await rig.close();
  }
});

/** Routing reasons and the router's prefix estimate on `/metrics` and in the records, from a real gateway over simulated replicas driven with the OpenAI SDK; checked by promtool. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { MODEL, startRig } from "../gateway/testing.ts";
import { promtool } from "./promtool.ts";

/** The summed value of the samples of `name` whose label sets include every pair of `labels`. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      total += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return total;
}

const SYSTEM = "You are a careful assistant. ".repeat(200);

Deno.test("/metrics counts prefix_aware's picks by reason, the replicas' cached prompt tokens beside the router's estimate and the streams' chunk gaps; records name the pick", async () => {
  // 1 simulated second a step (50 ms at 20x): a stream's tokens come apart, about a chunk each.
  const rig = await startRig({ replicas: 2, sim: { slowTokenMs: 1000 } });
  try {
    for (let i = 0; i < 6; i++) {
      const stream = await rig.client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "system", content: SYSTEM }, { role: "user", content: `question ${i}` }],
        max_tokens: 4,
        stream: true,
        stream_options: { include_usage: true },
      });
      for await (const _ of stream) { /* read to the end */ }
    }
    const text = await (await fetch(`${rig.gateway.url}/metrics`)).text();
    const check = await promtool(text);
    assertEquals(check.code, 0, check.output);
    const hits = sample(text, "turnpike_routing_picks_total", {
      model: MODEL,
      strategy: "prefix_aware",
      reason: "prefix_hit",
    });
    assert(hits >= 4, `prefix hits ${hits}\n${text}`);
    const reported = sample(text, "turnpike_upstream_cached_prompt_tokens_total", { model: MODEL });
    const predicted = sample(text, "turnpike_router_predicted_cached_prompt_tokens_total", {
      model: MODEL,
    });
    assert(reported > 0 && predicted > 0, `reported ${reported}, predicted ${predicted}`);
    // 4 tokens a stream, 50 ms apart: 3 gaps or more each (2 each leaves room for a coalesced read).
    const gaps = sample(text, "turnpike_upstream_inter_token_latency_seconds_count", {
      model: MODEL,
    });
    assert(gaps >= 6 * 2, `inter-token gaps ${gaps}`);
    const fast = sample(text, "turnpike_upstream_inter_token_latency_seconds_bucket", {
      model: MODEL,
      le: "0.01",
    });
    assert(fast < gaps / 2, `${fast} of ${gaps} gaps under 10 ms`);
    const page = await (await fetch(`${rig.gateway.url}/api/requests?limit=1`)).json();
    const [last] = page.data;
    assertEquals([last.routeStrategy, last.routeReason], ["prefix_aware", "prefix_hit"]);
    assert(last.routerPrefixShare >= 0.5, JSON.stringify(last));
    assert(last.cachedTokens > 0 && last.predictedCachedTokens > 0, JSON.stringify(last));
  } finally {
    await rig.close();
  }
});

Deno.test("/metrics counts session_affinity's picks as affinity once a session has its replica", async () => {
  const rig = await startRig({ replicas: 2, proxy: { strategy: "session_affinity" } });
  try {
    for (let i = 0; i < 5; i++) {
      await rig.client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: `turn ${i}` }],
        max_tokens: 2,
      }, { headers: { "X-Session-ID": "metrics-affinity-session" } });
    }
    const text = await (await fetch(`${rig.gateway.url}/metrics`)).text();
    assertEquals(
      sample(text, "turnpike_routing_picks_total", {
        model: MODEL,
        strategy: "session_affinity",
        reason: "affinity",
      }),
      4,
      text,
    );
  } finally {
    await rig.close();
  }
});

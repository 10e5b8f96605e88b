import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { Registry } from "prom-client";
import { RequestMetrics, statusClass } from "./request_metrics.ts";
import type { RequestRecord } from "../../records.ts";
import { ChunkGaps, noteChunkGaps } from "../../chunk_gaps.ts";

function record(overrides: Partial<RequestRecord> = {}): RequestRecord {
  return {
    requestId: "req-1",
    model: "m",
    endpoint: "/v1/chat/completions",
    stream: true,
    status: 200,
    backendId: "127.0.0.1:9001",
    attempts: 1,
    sessionId: "session-secret-1",
    taskId: "task-secret-1",
    clientId: "client-secret-1",
    clientPreMs: undefined,
    clientPostMs: undefined,
    startedAtMs: 0,
    gatewayMs: 1,
    upstreamTtftMs: 50,
    upstreamMs: 150,
    totalMs: 160,
    promptTokens: 10,
    completionTokens: 11,
    usageSource: "reported",
    error: undefined,
    ...overrides,
  };
}

async function observed(records: RequestRecord[]): Promise<string> {
  const registry = new Registry();
  const metrics = new RequestMetrics(registry, {
    knownModel: (m) => m === "m",
    strategy: "least_load",
  });
  for (const r of records) metrics.observe(r);
  return await registry.metrics();
}

Deno.test("statusClass() is the hundreds of the status", () => {
  assertEquals(statusClass(200), "2xx");
  assertEquals(statusClass(429), "4xx");
  assertEquals(statusClass(503), "5xx");
});

Deno.test("observe() counts a request by model, backend, route and status class, and never labels its session, task or client", async () => {
  const text = await observed([record()]);
  assert(
    text.includes(
      'turnpike_requests_total{model="m",backend="127.0.0.1:9001",route="/v1/chat/completions",status="2xx"} 1',
    ),
    text,
  );
  for (const secret of ["session-secret-1", "task-secret-1", "client-secret-1", "req-1"]) {
    assert(!text.includes(secret), secret);
  }
});

Deno.test("observe() labels a model not served here as unknown", async () => {
  const text = await observed([record({ model: "<script>", status: 404, backendId: undefined })]);
  assert(text.includes('model="unknown",backend="none"'), text);
  assert(!text.includes("<script>"));
});

Deno.test("observe() takes the time per output token from the decode time over the tokens after the first", async () => {
  const text = await observed([record()]);
  // (150 - 50) ms over 10 tokens: 10 ms, in the 0.01 s bucket.
  assert(
    text.includes(
      'turnpike_upstream_time_per_output_token_seconds_bucket{le="0.01",model="m",backend="127.0.0.1:9001"} 1',
    ),
    text,
  );
  assert(
    text.includes(
      'turnpike_upstream_time_to_first_token_seconds_bucket{le="0.06",model="m",backend="127.0.0.1:9001"} 1',
    ),
    text,
  );
});

Deno.test("observe() counts retries, refusals by code, tokens and queue time under admission", async () => {
  const text = await observed([
    record({ attempts: 3 }),
    record({
      status: 429,
      attempts: 0,
      backendId: undefined,
      errorCode: "rate_limit_exceeded",
      priority: "low",
      queueMs: 0,
    }),
    record({ priority: "high", queueMs: 700 }),
  ]);
  assert(text.includes('turnpike_retries_total{model="m"} 2'), text);
  assert(
    text.includes(
      'turnpike_refusals_total{model="m",route="/v1/chat/completions",status="4xx",code="rate_limit_exceeded"} 1',
    ),
    text,
  );
  assert(text.includes('turnpike_prompt_tokens_total{model="m"} 30'), text);
  assert(
    text.includes(
      'turnpike_gateway_queue_time_seconds_bucket{le="0.8",model="m",priority="high"} 1',
    ),
    text,
  );
  assert(
    text.includes(
      'turnpike_gateway_queue_time_seconds_bucket{le="0.5",model="m",priority="high"} 0',
    ),
    text,
  );
  assert(
    text.includes(
      'turnpike_routing_decisions_total{model="m",strategy="least_load",outcome="retried"} 1',
    ),
    text,
  );
});

Deno.test("observe() counts picks by the strategy and reason the record names, and the cached prompt tokens reported beside the router's estimate", async () => {
  const text = await observed([
    record({
      routeStrategy: "prefix_aware",
      routeReason: "prefix_hit",
      cachedTokens: 512,
      predictedCachedTokens: 600,
    }),
    record({ routeStrategy: "prefix_aware", routeReason: "balanced", cachedTokens: 0 }),
    record({ routeReason: "fallback", attempts: 2 }),
  ]);
  assert(
    text.includes(
      'turnpike_routing_picks_total{model="m",strategy="prefix_aware",reason="prefix_hit"} 1',
    ),
    text,
  );
  assert(
    text.includes(
      'turnpike_routing_picks_total{model="m",strategy="least_load",reason="fallback"} 1',
    ),
    text,
  );
  assert(
    text.includes(
      'turnpike_routing_decisions_total{model="m",strategy="prefix_aware",outcome="routed"} 2',
    ),
    text,
  );
  assert(
    text.includes(
      'turnpike_upstream_cached_prompt_tokens_total{model="m",backend="127.0.0.1:9001"} 512',
    ),
    text,
  );
  assert(
    text.includes(
      'turnpike_router_predicted_cached_prompt_tokens_total{model="m",backend="127.0.0.1:9001"} 600',
    ),
    text,
  );
});

Deno.test("observe() adds a stream's chunk gaps to the inter-token latency histogram on vLLM's buckets, cumulative in seconds", async () => {
  const streamed = record();
  const gaps = new ChunkGaps();
  for (const ms of [8, 9, 20, 700]) gaps.add(ms);
  noteChunkGaps(streamed, gaps);
  const text = await observed([streamed, record()]);
  const series = 'model="m",backend="127.0.0.1:9001"';
  for (
    const [le, count] of [["0.01", 2], ["0.025", 3], ["0.5", 3], ["0.75", 4], ["+Inf", 4]] as const
  ) {
    assert(
      text.includes(
        `turnpike_upstream_inter_token_latency_seconds_bucket{le="${le}",${series}} ${count}`,
      ),
      text,
    );
  }
  assert(text.includes(`turnpike_upstream_inter_token_latency_seconds_count{${series}} 4`), text);
  assert(text.includes(`turnpike_upstream_inter_token_latency_seconds_sum{${series}} 0.737`), text);
});

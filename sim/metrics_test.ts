import { assert, assertAlmostEquals, assertEquals, assertGreater } from "./_assert.ts";
import { waitFor, withSim } from "./_testing.ts";
import { VirtualClock } from "./clock.ts";
import { Engine } from "./engine.ts";
import { parseKvCapacity } from "../actors/backend/vllm_metrics.ts";

/** Parses Prometheus text into "name{labels}" -> value. */
function parseProm(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

Deno.test("/metrics exposes vLLM's names with model_name labels and counts what was served", () =>
  withSim({ tokenizer: "approx", timeScale: 50, model: "m" }, async (sim) => {
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${sim.url}/v1/completions`, {
        method: "POST",
        body: JSON.stringify({ model: "m", prompt: "q".repeat(4096), max_tokens: 4 }),
      });
      await r.json();
    }
    const response = await fetch(`${sim.url}/metrics`);
    assert(response.headers.get("content-type")!.startsWith("text/plain"));
    const m = parseProm(await response.text());
    const l = '{model_name="m"}';
    assertEquals(m.get(`vllm:num_requests_running${l}`), 0);
    assertEquals(m.get(`vllm:num_requests_waiting${l}`), 0);
    assertEquals(m.get(`vllm:kv_cache_usage_perc${l}`), 0);
    assertEquals(m.get(`vllm:generation_tokens_total${l}`), 12);
    assertEquals(m.get(`vllm:prompt_tokens_total${l}`), 3 * 1029);
    assertEquals(m.get(`vllm:prefix_cache_queries_total${l}`), 3 * 1029);
    assertEquals(m.get(`vllm:prefix_cache_hits_total${l}`), 2 * 1024);
    assertEquals(m.get('vllm:request_success_total{model_name="m",finished_reason="length"}'), 3);
    for (const h of ["time_to_first_token", "e2e_request_latency", "request_queue_time"]) {
      assertEquals(m.get(`vllm:${h}_seconds_count${l}`), 3);
      assertEquals(m.get(`vllm:${h}_seconds_bucket{model_name="m",le="+Inf"}`), 3);
    }
    assertEquals(m.get(`vllm:inter_token_latency_seconds_count${l}`), 9);
    assertGreater(m.get(`vllm:time_to_first_token_seconds_sum${l}`)!, 0);
  }));

Deno.test("/metrics shows running and waiting requests and KV usage while busy", () =>
  withSim({
    tokenizer: "approx",
    timeScale: 1,
    model: "m",
    maxNumSeqs: 1,
  }, async (sim) => {
    const controllers = [new AbortController(), new AbortController()];
    const streams = await Promise.all(controllers.map((c) =>
      fetch(`${sim.url}/v1/completions`, {
        method: "POST",
        signal: c.signal,
        body: JSON.stringify({
          model: "m",
          prompt: "w".repeat(4096),
          max_tokens: 5000,
          stream: true,
        }),
      })
    ));
    await waitFor("both requests are queued or running", () =>
      sim.engine.numRunning + sim.engine.numWaiting === 2);
    const m = parseProm(await (await fetch(`${sim.url}/metrics`)).text());
    assertEquals(m.get('vllm:num_requests_running{model_name="m"}'), 1);
    assertEquals(m.get('vllm:num_requests_waiting{model_name="m"}'), 1);
    assertGreater(m.get('vllm:kv_cache_usage_perc{model_name="m"}')!, 0);
    for (const c of controllers) {
      c.abort();
    }
    for (const s of streams) {
      await s.body?.cancel().catch(() => {});
    }
  }));

Deno.test("latency histograms hold the engine's simulated times at the time scale, not when the event loop got to them", () =>
  withSim({ tokenizer: "approx", timeScale: 100, model: "m" }, async (sim) => {
    const r = await fetch(`${sim.url}/v1/completions`, {
      method: "POST",
      body: JSON.stringify({
        model: "m",
        prompt: "q".repeat(1000),
        max_tokens: 300,
        stream: true,
        stream_options: { include_usage: true },
      }),
    });
    const events = (await r.text()).split("\n\n").filter((e) => e.startsWith("data: {"));
    const usage = JSON.parse(events.at(-1)!.slice(6)).usage;
    assertEquals(usage.completion_tokens, 300);
    // The same request on a virtual clock: what a replica that never waits on timers reports.
    const clock = new VirtualClock();
    const model = new Engine(clock, { metricsTimeScale: 100 });
    model.submit({ id: "x", promptTokens: usage.prompt_tokens, maxTokens: 300, blockHashes: [] });
    clock.runUntilIdle();
    model.close();
    const m = parseProm(await (await fetch(`${sim.url}/metrics`)).text());
    const l = '{model_name="m"}';
    for (
      const [name, h] of [
        ["time_to_first_token", model.metrics.ttft],
        ["inter_token_latency", model.metrics.itl],
        ["e2e_request_latency", model.metrics.e2e],
        ["request_queue_time", model.metrics.queue],
      ] as const
    ) {
      assertEquals(m.get(`vllm:${name}_seconds_count${l}`), h.count);
      assertAlmostEquals(m.get(`vllm:${name}_seconds_sum${l}`)!, h.sum, 1e-9);
    }
    assertEquals(m.get(`vllm:request_queue_time_seconds_sum${l}`), 0);
  }));

Deno.test("/metrics counts a prompt loaded from the host tier as external prefix-cache hits", () =>
  withSim({
    tokenizer: "approx",
    timeScale: 50,
    model: "m",
    kvTokens: 8 * 512,
    offloadTokens: 64 * 512,
  }, async (sim) => {
    const complete = async (prompt: string) => {
      const r = await fetch(`${sim.url}/v1/completions`, {
        method: "POST",
        body: JSON.stringify({ model: "m", prompt, max_tokens: 1 }),
      });
      return (await r.json()).usage;
    };
    const first = await complete("q".repeat(6144));
    // Eight blocks of another prompt push the first one's out of the 8-block GPU cache.
    const flush = await complete("z".repeat(16_000));
    const again = await complete("q".repeat(6144));
    assertEquals(again.prompt_tokens_details.cached_tokens, 3 * 512);
    const m = parseProm(await (await fetch(`${sim.url}/metrics`)).text());
    const l = '{model_name="m"}';
    const queries = m.get(`vllm:prefix_cache_queries_total${l}`)!;
    assertEquals(queries, 2 * first.prompt_tokens + flush.prompt_tokens);
    assertEquals(m.get(`vllm:prefix_cache_hits_total${l}`), 0);
    assertEquals(m.get(`vllm:external_prefix_cache_queries_total${l}`), queries);
    assertEquals(m.get(`vllm:external_prefix_cache_hits_total${l}`), 3 * 512);
  }));

Deno.test("/metrics shows the external prefix-cache counters at 0 without a host tier", () =>
  withSim({ tokenizer: "approx", timeScale: 50, model: "m" }, async (sim) => {
    const text = await (await fetch(`${sim.url}/metrics`)).text();
    assert(text.includes("# TYPE vllm:external_prefix_cache_hits_total counter"));
    const m = parseProm(text);
    assertEquals(m.get('vllm:external_prefix_cache_queries_total{model_name="m"}'), 0);
    assertEquals(m.get('vllm:external_prefix_cache_hits_total{model_name="m"}'), 0);
  }));

Deno.test("/metrics exports vLLM's cache_config_info, whose blocks give the replica's KV capacity", () =>
  withSim({ tokenizer: "approx", timeScale: 50, model: "m", kvTokens: 51_200 }, async (sim) => {
    const text = await (await fetch(`${sim.url}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith("vllm:cache_config_info{"));
    assert(line !== undefined);
    assert(line.includes('num_gpu_blocks="100"'), line);
    assert(line.includes('block_size="512"'), line);
    assert(line.endsWith("} 1"), line);
    assertEquals(parseKvCapacity(text), 51_200);
  }));

/** Renders a replica's state as vLLM's Prometheus metrics. */
import type { Engine } from "./engine.ts";
import type { Histogram } from "./histogram.ts";
import { BLOCK_TOKENS } from "./kv_cache.ts";

function labels(model: string, extra = ""): string {
  const name = model.replaceAll("\\", "\\\\").replaceAll('"', '\\"');
  return `{model_name="${name}"${extra}}`;
}

function scalar(
  out: string[],
  name: string,
  type: string,
  help: string,
  value: string,
  lbl: string,
): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name}${lbl} ${value}`);
}

function histogram(out: string[], name: string, help: string, h: Histogram, model: string): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
  let cumulative = 0;
  for (let i = 0; i < h.bounds.length; i++) {
    cumulative += h.counts[i]!;
    out.push(`${name}_bucket${labels(model, `,le="${h.bounds[i]}"`)} ${cumulative}`);
  }
  out.push(`${name}_bucket${labels(model, ',le="+Inf"')} ${h.count}`);
  out.push(`${name}_sum${labels(model)} ${h.sum}`, `${name}_count${labels(model)} ${h.count}`);
}

/** The text of `GET /metrics` for `engine` serving `model`. */
export function renderMetrics(engine: Engine, model: string, realMsPerSimMs = 1): string {
  const out: string[] = [];
  const l = labels(model);
  const m = engine.metrics;
  const kv = engine.kv;
  scalar(
    out,
    "vllm:num_requests_running",
    "gauge",
    "Number of requests in model execution batches.",
    String(engine.numRunning),
    l,
  );
  scalar(
    out,
    "vllm:num_requests_waiting",
    "gauge",
    "Number of requests waiting to be processed.",
    // As in vLLM, a request loading its KV from the host tier is waiting.
    String(engine.numWaiting + engine.numLoading),
    l,
  );
  scalar(
    out,
    "vllm:kv_cache_usage_perc",
    "gauge",
    "KV-cache usage. 1 means 100 percent usage.",
    String(kv.usage),
    l,
  );
  scalar(
    out,
    "vllm:prefix_cache_queries_total",
    "counter",
    "Prefix cache queries, in terms of number of queried tokens.",
    String(kv.stats.queries),
    l,
  );
  scalar(
    out,
    "vllm:prefix_cache_hits_total",
    "counter",
    "Prefix cache hits, in terms of number of cached tokens.",
    String(kv.stats.hits),
    l,
  );
  // vLLM's CacheConfig as an info gauge (its fields as labels, one series per engine): a gateway
  // reads the KV capacity from num_gpu_blocks x block_size. The simulator's blocks are its
  // prefix-cache blocks of 512 tokens.
  out.push(
    "# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig",
    "# TYPE vllm:cache_config_info gauge",
    `vllm:cache_config_info{block_size="${BLOCK_TOKENS}",cache_dtype="auto",enable_prefix_caching="True",engine="0",num_cpu_blocks="${
      kv.host?.capacityBlocks ?? 0
    }",num_gpu_blocks="${kv.totalBlocks}"} 1`,
  );
  // vLLM shows these when a KV connector is configured; here always, 0 without a host tier.
  scalar(
    out,
    "vllm:external_prefix_cache_queries_total",
    "counter",
    "External prefix cache queries from the KV connector, in terms of number of queried tokens.",
    String(kv.stats.externalQueries),
    l,
  );
  scalar(
    out,
    "vllm:external_prefix_cache_hits_total",
    "counter",
    "External prefix cache hits from the KV connector, in terms of number of cached tokens.",
    String(kv.stats.externalHits),
    l,
  );
  scalar(
    out,
    "vllm:num_preemptions_total",
    "counter",
    "Cumulative number of preemption from the engine.",
    String(m.preemptions),
    l,
  );
  scalar(
    out,
    "vllm:prompt_tokens_total",
    "counter",
    "Number of prefill tokens processed.",
    String(m.promptTokens),
    l,
  );
  scalar(
    out,
    "vllm:generation_tokens_total",
    "counter",
    "Number of generation tokens processed.",
    String(m.generationTokens),
    l,
  );
  out.push(
    "# HELP vllm:request_success_total Count of successfully processed requests.",
    "# TYPE vllm:request_success_total counter",
  );
  for (const reason of ["stop", "length", "abort"] as const) {
    out.push(
      `vllm:request_success_total${labels(model, `,finished_reason="${reason}"`)} ${
        m.finished[reason]
      }`,
    );
  }
  histogram(
    out,
    "vllm:time_to_first_token_seconds",
    "Histogram of time to first token in seconds.",
    m.ttft,
    model,
  );
  histogram(
    out,
    "vllm:inter_token_latency_seconds",
    "Histogram of inter-token latency in seconds.",
    m.itl,
    model,
  );
  histogram(
    out,
    "vllm:e2e_request_latency_seconds",
    "Histogram of e2e request latency in seconds.",
    m.e2e,
    model,
  );
  histogram(
    out,
    "vllm:request_queue_time_seconds",
    "Histogram of time spent in WAITING phase for request.",
    m.queue,
    model,
  );
  // Not vLLM's: how far the simulator's step loop runs behind its scaled clock, in real seconds.
  const lagSeconds = (ms: number) => String(ms * realMsPerSimMs / 1000);
  scalar(
    out,
    "sim:step_lag_seconds_max",
    "gauge",
    "Largest lag of an engine step behind the clock.",
    lagSeconds(engine.lag.maxMs),
    l,
  );
  scalar(
    out,
    "sim:step_lag_seconds_total",
    "counter",
    "Sum of engine step lags behind the clock.",
    lagSeconds(engine.lag.sumMs),
    l,
  );
  scalar(out, "sim:steps_total", "counter", "Engine steps run.", String(engine.lag.steps), l);
  return out.join("\n") + "\n";
}

/** The proxy benchmark's load generator: closed-loop clients posting chat completions, measuring latency and time to first byte. */
import { parseArgs } from "node:util";

/** Results of one load run. */
export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  /** Whole-response latency percentiles, in ms. */
  latencyMs: { p50: number; p90: number; p99: number; mean: number };
  /** Time to the first body byte, in ms. */
  ttfbMs: { p50: number; p90: number; p99: number };
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[
    Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  ] as number;
}

/** Runs `concurrency` closed-loop clients against `url` for `warmupS` + `durationS` seconds. */
export async function runLoad(
  url: string,
  options: { concurrency: number; durationS: number; warmupS: number; stream: boolean },
): Promise<LoadResult> {
  const body = JSON.stringify({
    model: "bench",
    messages: [{ role: "user", content: "Say ok." }],
    max_tokens: 10,
    stream: options.stream,
  });
  const latencies: number[] = [];
  const ttfbs: number[] = [];
  let errors = 0;
  const start = performance.now();
  const measureFrom = start + options.warmupS * 1000;
  const end = measureFrom + options.durationS * 1000;
  async function client(): Promise<void> {
    while (performance.now() < end) {
      const t0 = performance.now();
      let ttfb = NaN;
      let ok = false;
      try {
        const res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        });
        const reader = res.body!.getReader();
        for (;;) {
          const { done } = await reader.read();
          if (Number.isNaN(ttfb)) ttfb = performance.now() - t0;
          if (done) break;
        }
        ok = res.status === 200;
      } catch {
        ok = false;
      }
      const t1 = performance.now();
      if (t0 < measureFrom || t1 > end) continue;
      if (!ok) {
        errors++;
        continue;
      }
      latencies.push(t1 - t0);
      ttfbs.push(ttfb);
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, () => client()));
  latencies.sort((a, b) => a - b);
  ttfbs.sort((a, b) => a - b);
  const mean = latencies.reduce((s, x) => s + x, 0) / Math.max(1, latencies.length);
  return {
    requests: latencies.length,
    errors,
    seconds: options.durationS,
    rps: latencies.length / options.durationS,
    latencyMs: {
      p50: quantile(latencies, 0.5),
      p90: quantile(latencies, 0.9),
      p99: quantile(latencies, 0.99),
      mean,
    },
    ttfbMs: { p50: quantile(ttfbs, 0.5), p90: quantile(ttfbs, 0.9), p99: quantile(ttfbs, 0.99) },
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      url: { type: "string" },
      concurrency: { type: "string", default: "1" },
      duration: { type: "string", default: "3" },
      warmup: { type: "string", default: "1" },
      stream: { type: "boolean", default: false },
    },
  });
  if (!values.url) throw new Error("Pass --url URL");
  const result = await runLoad(values.url, {
    concurrency: Number(values.concurrency),
    durationS: Number(values.duration),
    warmupS: Number(values.warmup),
    stream: values.stream ?? false,
  });
  console.log(JSON.stringify(result));
}

/**
 * The proxy benchmark's load generator: closed-loop clients posting chat completions, measuring
 * latency and time to first byte. Given several URLs, each client sends to them in turn, so every
 * target is measured over the same seconds and a burst of noise on the machine hits them alike.
 */
import { parseArgs } from "node:util";
import { summarize } from "../../sim/mod.ts";

/** Results of one load run against one URL. */
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

/** Settings of {@linkcode runLoad}. */
export interface LoadOptions {
  /** Closed-loop clients. */
  concurrency: number;
  /** Measured seconds. */
  durationS: number;
  /** Seconds of load before measuring. */
  warmupS: number;
  /** Ask for SSE answers. */
  stream: boolean;
}

interface Samples {
  latencies: number[];
  ttfbs: number[];
  errors: number;
}

/**
 * The figures of one target. `sharedBy`: the clients of a run shared with other targets, whose
 * rate is then its requests over the seconds those clients spent on it; undefined when alone.
 */
function resultOf(samples: Samples, durationS: number, sharedBy?: number): LoadResult {
  const latency = summarize(samples.latencies);
  const ttfb = summarize(samples.ttfbs);
  const mean = latency.count === 0 ? 0 : latency.mean;
  const busyS = sharedBy === undefined ? durationS : mean * latency.count / 1000 / sharedBy;
  return {
    requests: latency.count,
    errors: samples.errors,
    seconds: durationS,
    rps: latency.count / busyS,
    latencyMs: { p50: latency.p50, p90: latency.p90, p99: latency.p99, mean },
    ttfbMs: { p50: ttfb.p50, p90: ttfb.p90, p99: ttfb.p99 },
  };
}

/**
 * Runs `concurrency` closed-loop clients for `warmupS` + `durationS` seconds; each client sends to
 * `urls` in turn. Returns one result per URL, in order; with several URLs a result's rps is its
 * requests over the time the clients spent waiting on that URL.
 */
export async function runLoad(urls: string[], options: LoadOptions): Promise<LoadResult[]> {
  const body = JSON.stringify({
    model: "bench",
    messages: [{ role: "user", content: "Say ok." }],
    max_tokens: 10,
    stream: options.stream,
  });
  const samples: Samples[] = urls.map(() => ({ latencies: [], ttfbs: [], errors: 0 }));
  const start = performance.now();
  const measureFrom = start + options.warmupS * 1000;
  const end = measureFrom + options.durationS * 1000;
  async function client(first: number): Promise<void> {
    for (let turn = first; performance.now() < end; turn++) {
      const index = turn % urls.length;
      const t0 = performance.now();
      let ttfb = NaN;
      let ok = false;
      try {
        const res = await fetch(urls[index]!, {
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
      const target = samples[index]!;
      if (!ok) {
        target.errors++;
        continue;
      }
      target.latencies.push(t1 - t0);
      target.ttfbs.push(ttfb);
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, (_, i) => client(i)));
  const sharedBy = urls.length === 1 ? undefined : options.concurrency;
  return samples.map((s) => resultOf(s, options.durationS, sharedBy));
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      url: { type: "string", multiple: true },
      concurrency: { type: "string", default: "1" },
      duration: { type: "string", default: "3" },
      warmup: { type: "string", default: "1" },
      stream: { type: "boolean", default: false },
    },
  });
  if (!values.url?.length) throw new Error("Pass --url URL (once per target)");
  const results = await runLoad(values.url, {
    concurrency: Number(values.concurrency),
    durationS: Number(values.duration),
    warmupS: Number(values.warmup),
    stream: values.stream ?? false,
  });
  console.log(JSON.stringify(results));
}

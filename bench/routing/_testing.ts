/** The routing bench's test fixture: a measured run built from made-up requests and counters. */
import { measureRun } from "./measure.ts";

/** What {@linkcode fixtureRun} may vary beyond TTFT and hits. */
export interface FixtureOptions {
  /** Output tokens of each request. @default 5 */
  outputTokens?: number;
  /** Whether the first request failed (HTTP 503). @default false */
  failed?: boolean;
  /** Prompt tokens of 100 loaded from the host tier. @default 0 */
  externalHits?: number;
}

/**
 * A run of three requests on backend `a` of `a`, `b`, with TTFTs of `ttft` x 1, 2, 3 ms, and
 * `hits` of 100 prompt tokens cached on the GPU.
 */
export function fixtureRun(
  strategy: string,
  ttft: number,
  hits: number,
  { outputTokens = 5, failed = false, externalHits = 0 }: FixtureOptions = {},
) {
  return measureRun({
    requests: [0, 1, 2].map((i) => ({
      index: i,
      sentMs: i,
      ttftMs: ttft * (i + 1),
      e2eMs: ttft * 10,
      outputTokens,
      backend: "a",
      error: failed && i === 0 ? "HTTP 503" : undefined,
    })),
    itlMs: [1, 2],
    durationMs: 1000,
  }, {
    strategy,
    backends: ["a", "b"],
    before: {},
    after: {
      "vllm:prefix_cache_queries_total": 100,
      "vllm:prefix_cache_hits_total": hits,
      "vllm:external_prefix_cache_queries_total": externalHits > 0 ? 100 : 0,
      "vllm:external_prefix_cache_hits_total": externalHits,
    },
  });
}

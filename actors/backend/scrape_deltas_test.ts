import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { scrapeDeltas } from "./scrape_deltas.ts";
import { parseVllmMetrics, type VllmMetrics } from "./vllm_metrics.ts";

function scrape(lines: string[], at: number): VllmMetrics {
  return parseVllmMetrics(lines.join("\n") + "\n", at)!;
}

function sample(queueSum: number, queueCount: number, waiting: number, extra: string[] = []) {
  return [
    `vllm:num_requests_running{engine="0"} 4`,
    `vllm:num_requests_waiting{engine="0"} ${waiting}`,
    `vllm:request_queue_time_seconds_sum{engine="0"} ${queueSum}`,
    `vllm:request_queue_time_seconds_count{engine="0"} ${queueCount}`,
    ...extra,
  ];
}

Deno.test("parseVllmMetrics() reads preemptions and the queue-time histogram's sum and count", () => {
  const m = scrape(sample(1.5, 10, 0, ['vllm:num_preemptions_total{engine="0"} 3']), 0);
  assertEquals([m.preemptions, m.queueTimeSumS, m.queueTimeCount], [3, 1.5, 10]);
});

Deno.test("scrapeDeltas() gives the mean queue time of the requests that left the queue between scrapes", () => {
  const first = scrape(sample(1, 10, 2), 0);
  assertEquals(scrapeDeltas(undefined, first).recentQueueMs, undefined);
  // 2 more seconds over 4 more requests: 500 ms each.
  const second = scrapeDeltas(first, scrape(sample(3, 14, 2), 1000));
  assertEquals(second.recentQueueMs, 500);
  // None left the queue while two wait: the last figure stands.
  assertEquals(scrapeDeltas(second, scrape(sample(3, 14, 2), 2000)).recentQueueMs, 500);
  // None left and none waits: nothing queues.
  assertEquals(scrapeDeltas(second, scrape(sample(3, 14, 0), 2000)).recentQueueMs, 0);
});

Deno.test("scrapeDeltas() counts preemptions and the prefix hit rate since the scrape before, and skips a counter that went back", () => {
  const first = scrape(
    sample(0, 0, 0, [
      'vllm:num_preemptions_total{engine="0"} 5',
      'vllm:prefix_cache_queries_total{engine="0"} 1000',
      'vllm:prefix_cache_hits_total{engine="0"} 100',
    ]),
    0,
  );
  const second = scrapeDeltas(
    first,
    scrape(
      sample(0, 0, 0, [
        'vllm:num_preemptions_total{engine="0"} 8',
        'vllm:prefix_cache_queries_total{engine="0"} 2000',
        'vllm:prefix_cache_hits_total{engine="0"} 900',
      ]),
      1000,
    ),
  );
  assertEquals([second.recentPreemptions, second.recentPrefixHitRate], [3, 0.8]);
  const restarted = scrapeDeltas(
    second,
    scrape(sample(0, 0, 0, ['vllm:num_preemptions_total{engine="0"} 1']), 2000),
  );
  assertEquals(restarted.recentPreemptions, undefined);
});

/** What changed on a replica between two `/metrics` scrapes: its recent queue time, preemptions and prefix-cache hit rate. */
import type { VllmMetrics } from "./vllm_metrics.ts";

/** A counter's increase from `before` to `after`; undefined when either is missing or it went back (a restarted replica). */
function increase(before: number | undefined, after: number | undefined): number | undefined {
  if (before === undefined || after === undefined || after < before) return undefined;
  return after - before;
}

/**
 * `next` with the figures since `previous` filled in: `recentQueueMs` (the queue-time
 * histogram's growth in sum over its growth in count; 0 when nothing left the queue and nothing
 * waits, the previous figure while requests wait and none left), `recentPreemptions` and
 * `recentPrefixHitRate`. A first scrape, or one after a counter went back, gets none of them.
 */
export function scrapeDeltas(previous: VllmMetrics | undefined, next: VllmMetrics): VllmMetrics {
  if (previous === undefined) return next;
  const out: VllmMetrics = { ...next };
  const count = increase(previous.queueTimeCount, next.queueTimeCount);
  const sum = increase(previous.queueTimeSumS, next.queueTimeSumS);
  if (count !== undefined && sum !== undefined) {
    if (count > 0) out.recentQueueMs = sum / count * 1000;
    else if (next.waiting === 0) out.recentQueueMs = 0;
    else if (previous.recentQueueMs !== undefined) out.recentQueueMs = previous.recentQueueMs;
  }
  const preempted = increase(previous.preemptions, next.preemptions);
  if (preempted !== undefined) out.recentPreemptions = preempted;
  const queries = increase(previous.prefixQueries, next.prefixQueries);
  const hits = increase(previous.prefixHits, next.prefixHits);
  if (queries !== undefined && hits !== undefined && queries > 0) {
    out.recentPrefixHitRate = Math.min(1, hits / queries);
  } else if (queries === 0 && previous.recentPrefixHitRate !== undefined) {
    out.recentPrefixHitRate = previous.recentPrefixHitRate;
  }
  return out;
}

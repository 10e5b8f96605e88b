/** The load figures a BackendActor scrapes from its replica, as the router's strategies read them. */

/** Load figures scraped from a replica's vLLM `/metrics`. */
export interface ScrapedLoad {
  /** `vllm:num_requests_running`. */
  running: number;
  /** `vllm:num_requests_waiting`. */
  waiting: number;
  /** `vllm:kv_cache_usage_perc`, 0 to 1. */
  kvUsage: number;
  /**
   * KV cache capacity in tokens, `num_gpu_blocks` x `block_size` from the labels of
   * `vllm:cache_config_info`, summed over engines; undefined when the replica does not export it.
   */
  kvCapacityTokens?: number;
  /** When it was scraped, in ms since the epoch. */
  scrapedAtMs: number;
  /**
   * Since the scrape before (see `scrapeDeltas`): the mean time requests waited in the replica's
   * queue (from `vllm:request_queue_time_seconds`), in ms; preemptions; and prefix-cache hits over
   * queries, 0 to 1. Absent when the replica exports no such figures or on its first scrape.
   */
  recentQueueMs?: number;
  recentPreemptions?: number;
  recentPrefixHitRate?: number;
}

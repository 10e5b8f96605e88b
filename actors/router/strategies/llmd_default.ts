/**
 * `llmd_default`: the llm-d inference scheduler's default scorer set (the endpoint picker of the
 * Gateway API Inference Extension, which llm-d builds on), for users who know it and as a peer in
 * `bench routing`.
 *
 * From the projects' published config and source:
 * - The default scheduling profile (github.com/kubernetes-sigs/gateway-api-inference-extension,
 *   `config/charts/inferencepool/templates/epp-config.yaml`, `default-plugins.yaml`):
 *   `queue-scorer` weight 2, `kv-cache-utilization-scorer` weight 2, `prefix-cache-scorer`
 *   weight 3, and the max-score picker (the highest weighted sum wins).
 * - `queue-scorer` (`pkg/epp/scheduling/framework/plugins/scorer/queue.go`): each endpoint scores
 *   `(max - waiting) / (max - min)` of the candidates' `vllm:num_requests_waiting`, 1 for all when
 *   they are equal.
 * - `kv-cache-utilization-scorer` (`kvcache_utilization.go`): `1 - vllm:kv_cache_usage_perc`.
 * - `prefix-cache-scorer` (`pkg/epp/scheduling/framework/plugins/multi/prefix/plugin.go`, the
 *   approximate prefix cache of llm-d-inference-scheduler): the request's bytes (a chat's messages)
 *   cut into blocks of 16 tokens x 4 characters = 64 characters (`DefaultBlockSizeTokens` 16,
 *   `averageCharactersPerToken` 4), at most 256 blocks (`DefaultMaxPrefixBlocks`, so only the first
 *   16,384 characters count), chained hashes seeded with the model name; each server's LRU indexer
 *   holds 31,250 block hashes (`DefaultLRUCapacityPerServer`) or, with `autoTune` (on by default),
 *   the server's own GPU block count. The score is the leading blocks found for the server over the
 *   request's blocks; the match stops at the first block no server holds. The chosen server's
 *   indexer learns every block of the request (`PreRequest`).
 *
 * Where turnpike differs: the max-score picker breaks ties at random, turnpike's picker by taking
 * turns; hashes are two 32-bit multiply-xor lanes instead of xxhash64 (the same chaining); the
 * endpoint picker refreshes metrics every 50 ms, the gateway at `proxy.metrics_scrape_interval`;
 * the server's GPU block count is read from `vllm:cache_config_info` (`kvCapacityTokens` / 16).
 */
import type { BackendView, RequestFeatures, Strategy, StrategyOptions } from "./types.ts";

/** The default profile's scorer weights. */
export const LLMD_WEIGHTS = { queue: 2, kvCacheUtilization: 2, prefixCache: 3 } as const;

/** The prefix-cache scorer's defaults. */
export const LLMD_PREFIX = {
  /** vLLM's block of 16 tokens at 4 characters a token. */
  blockChars: 64,
  /** Tokens per block the server's GPU block count is divided by (vLLM's default block size). */
  blockSizeTokens: 16,
  maxPrefixBlocksToMatch: 256,
  lruCapacityPerServer: 31_250,
} as const;

const TWO_POW_32 = 0x1_0000_0000;

function stringSeed(text: string): [number, number] {
  let h1 = 0x811c9dc5;
  let h2 = 0x9e3779b9;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x85ebca6b);
  }
  return [h1, h2];
}

/**
 * Chained hashes of `text`'s leading whole blocks of `blockChars` characters, at most `maxBlocks`,
 * the chain seeded with `model`: hash i covers blocks 0..i. A text shorter than a block has none.
 */
export function llmdBlockHashes(
  text: string,
  model: string,
  blockChars: number = LLMD_PREFIX.blockChars,
  maxBlocks: number = LLMD_PREFIX.maxPrefixBlocksToMatch,
): number[] {
  const blocks = Math.min(maxBlocks, Math.floor(text.length / blockChars));
  const hashes = new Array<number>(blocks);
  let [h1, h2] = stringSeed(model);
  for (let b = 0; b < blocks; b++) {
    const end = (b + 1) * blockChars;
    for (let i = b * blockChars; i < end; i++) {
      const c = text.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x85ebca6b);
    }
    let a = h1 ^ (h1 >>> 16);
    a = Math.imul(a, 0x7feb352d);
    a ^= a >>> 15;
    let d = h2 ^ (h2 >>> 15);
    d = Math.imul(d, 0x846ca68b);
    d ^= d >>> 16;
    hashes[b] = (a >>> 0) + (d & 0xfffff) * TWO_POW_32;
  }
  return hashes;
}

/**
 * The prefix-cache scorer's indexer: per server an LRU of block hashes with a capacity, and for
 * each hash the servers holding it.
 */
export class LlmdIndexer {
  readonly #servers = new Map<string, { lru: Map<number, true>; capacity: number }>();
  readonly #holders = new Map<number, Set<string>>();

  /** Block hashes held for `server`. */
  sizeOf(server: string): number {
    return this.#servers.get(server)?.lru.size ?? 0;
  }

  /** Records that `server` was sent `hashes`, evicting its least recently used beyond `capacity`. */
  add(hashes: readonly number[], server: string, capacity: number): void {
    let entry = this.#servers.get(server);
    if (entry === undefined) {
      entry = { lru: new Map(), capacity };
      this.#servers.set(server, entry);
    }
    entry.capacity = Math.max(1, Math.floor(capacity));
    const lru = entry.lru;
    for (const h of hashes) {
      if (lru.delete(h)) {
        lru.set(h, true);
        continue;
      }
      lru.set(h, true);
      let holders = this.#holders.get(h);
      if (holders === undefined) {
        holders = new Set();
        this.#holders.set(h, holders);
      }
      holders.add(server);
    }
    while (lru.size > entry.capacity) {
      const oldest = lru.keys().next().value;
      if (oldest === undefined) break;
      lru.delete(oldest);
      this.#release(oldest, server);
    }
  }

  #release(hash: number, server: string): void {
    const holders = this.#holders.get(hash);
    if (holders === undefined) return;
    holders.delete(server);
    if (holders.size === 0) this.#holders.delete(hash);
  }

  /**
   * Per server, how many of `hashes` it holds, counted over the leading run of hashes some server
   * holds (the scorer's `matchLongestPrefix`).
   */
  match(hashes: readonly number[]): Map<string, number> {
    const found = new Map<string, number>();
    for (const h of hashes) {
      const holders = this.#holders.get(h);
      if (holders === undefined) break;
      for (const server of holders) found.set(server, (found.get(server) ?? 0) + 1);
    }
    return found;
  }

  /** Drops everything `server` held. */
  remove(server: string): void {
    const entry = this.#servers.get(server);
    if (entry === undefined) return;
    for (const h of entry.lru.keys()) this.#release(h, server);
    this.#servers.delete(server);
  }
}

/** The queue scorer: `(max - waiting) / (max - min)`, 1 for every endpoint when all wait equally. */
export function queueScores(waiting: readonly number[]): number[] {
  let min = Infinity;
  let max = -Infinity;
  for (const w of waiting) {
    if (w < min) min = w;
    if (w > max) max = w;
  }
  return waiting.map((w) => (max === min ? 1 : (max - w) / (max - min)));
}

/** The LRU capacity of a server's indexer: its GPU blocks when it reports them (autoTune), else the default. */
export function llmdCapacity(backend: BackendView): number {
  const tokens = backend.load?.kvCapacityTokens;
  return tokens !== undefined && tokens > 0
    ? Math.max(1, Math.floor(tokens / LLMD_PREFIX.blockSizeTokens))
    : LLMD_PREFIX.lruCapacityPerServer;
}

/**
 * Scores each candidate by llm-d's default profile: `(2 x queue + 2 x kv-utilization + 3 x
 * prefix) / 7`, each scorer in [0, 1], from the candidates' last scraped metrics (none yet:
 * an empty queue and cache) and the prefix indexer.
 */
export function llmdDefault(_options: StrategyOptions): Strategy {
  const indexer = new LlmdIndexer();
  // The hashes computed to score a request, reused when it is routed (the scorer's cycle state).
  const hashesOf = new WeakMap<RequestFeatures, number[]>();
  const hashes = (request: RequestFeatures): number[] => {
    let h = hashesOf.get(request);
    if (h === undefined) {
      h = llmdBlockHashes(request.promptText ?? "", request.model);
      hashesOf.set(request, h);
    }
    return h;
  };
  const total = LLMD_WEIGHTS.queue + LLMD_WEIGHTS.kvCacheUtilization + LLMD_WEIGHTS.prefixCache;
  return {
    name: "llmd_default",
    score(request: RequestFeatures, candidates: readonly BackendView[]): number[] {
      const queue = queueScores(candidates.map((c) => c.load?.waiting ?? 0));
      const blocks = hashes(request);
      const found = blocks.length === 0 ? undefined : indexer.match(blocks);
      return candidates.map((c, i) => {
        const kv = 1 - Math.min(1, Math.max(0, c.load?.kvUsage ?? 0));
        const prefix = found === undefined ? 0 : (found.get(c.id) ?? 0) / blocks.length;
        return (LLMD_WEIGHTS.queue * queue[i]! + LLMD_WEIGHTS.kvCacheUtilization * kv +
          LLMD_WEIGHTS.prefixCache * prefix) / total;
      });
    },
    observe(request: RequestFeatures, chosen: BackendView): void {
      const blocks = hashes(request);
      if (blocks.length > 0) indexer.add(blocks, chosen.id, llmdCapacity(chosen));
    },
    forget(backendId: string): void {
      indexer.remove(backendId);
    },
  };
}

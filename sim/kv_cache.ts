/** KV blocks of a replica: a fixed pool shared by running sequences and an LRU prefix cache. */

/** Tokens per KV block; prefix-cache hits are whole blocks. */
export const BLOCK_TOKENS = 512;

interface CachedBlock {
  hash: number;
  refs: number;
}

/** The blocks one sequence holds. */
export interface BlockHold {
  /** Hashes of the cached (shareable) blocks it references, in prompt order. */
  cached: number[];
  /** Blocks it owns alone (not yet or never cacheable). */
  owned: number;
}

/** Counters of the prefix cache, in tokens, as vLLM counts them. */
export interface PrefixCacheStats {
  /** Prompt tokens looked up. */
  queries: number;
  /** Prompt tokens found cached. */
  hits: number;
  /** Cached blocks dropped to make room. */
  evictions: number;
}

/**
 * The block pool. Cached blocks are keyed by the chained hash of the prompt up to their end;
 * one with no reference stays cached until the pool needs it, least recently used first.
 */
export class KvCache {
  /** Blocks in the pool. */
  readonly totalBlocks: number;
  #free: number;
  readonly #cached = new Map<number, CachedBlock>();
  /** Cached blocks with no reference, oldest use first (Map keeps insertion order). */
  readonly #idle = new Map<number, CachedBlock>();
  /** Prefix cache counters. */
  readonly stats: PrefixCacheStats = { queries: 0, hits: 0, evictions: 0 };

  /** @param totalTokens the KV budget in tokens */
  constructor(totalTokens: number) {
    this.totalBlocks = Math.max(1, Math.floor(totalTokens / BLOCK_TOKENS));
    this.#free = this.totalBlocks;
  }

  /** Blocks held by running sequences (not free, not idle in the cache). */
  get usedBlocks(): number {
    return this.totalBlocks - this.#free - this.#idle.size;
  }

  /** Blocks that could be handed out now (free plus idle cached). */
  get availableBlocks(): number {
    return this.#free + this.#idle.size;
  }

  /** Blocks kept in the prefix cache (referenced or idle). */
  get cachedBlocks(): number {
    return this.#cached.size;
  }

  /** Fraction of the pool held by running sequences, 0 to 1 (vLLM's kv_cache_usage_perc). */
  get usage(): number {
    return this.usedBlocks / this.totalBlocks;
  }

  /** How many leading blocks of `hashes` are cached now, without touching anything. */
  cachedPrefixBlocks(hashes: readonly number[]): number {
    let n = 0;
    while (n < hashes.length && this.#cached.has(hashes[n]!)) n++;
    return n;
  }

  /**
   * Reserves blocks for a sequence of `tokens` whose full blocks hash to `hashes`, reusing at most
   * `maxHitBlocks` cached leading blocks. Returns the hold and how many blocks were hits, or
   * undefined (changing nothing) when the pool cannot fit it.
   */
  allocate(
    hashes: readonly number[],
    tokens: number,
    maxHitBlocks: number,
  ): { hold: BlockHold; hitBlocks: number } | undefined {
    const hitBlocks = Math.min(this.cachedPrefixBlocks(hashes), maxHitBlocks);
    const needed = Math.ceil(tokens / BLOCK_TOKENS) - hitBlocks;
    let idleHits = 0;
    for (let i = 0; i < hitBlocks; i++) {
      if (this.#cached.get(hashes[i]!)!.refs === 0) idleHits++;
    }
    if (needed > this.#free + this.#idle.size - idleHits) return undefined;
    const cached: number[] = [];
    for (let i = 0; i < hitBlocks; i++) {
      const hash = hashes[i]!;
      const block = this.#cached.get(hash)!;
      if (block.refs === 0) this.#idle.delete(hash);
      block.refs++;
      cached.push(hash);
    }
    this.#take(needed);
    return { hold: { cached, owned: needed }, hitBlocks };
  }

  /** Counts a prompt lookup for the hit-rate metrics. */
  recordQuery(promptTokens: number, hitTokens: number): void {
    this.stats.queries += promptTokens;
    this.stats.hits += hitTokens;
  }

  /** Adds one owned block to `hold`; false when the pool is full. */
  grow(hold: BlockHold): boolean {
    if (this.#free + this.#idle.size === 0) return false;
    this.#take(1);
    hold.owned++;
    return true;
  }

  /**
   * Turns the owned block at position `index` of `hold` (now fully computed) into a cached block
   * under `hash`. When that hash is cached already, the sequence shares it and frees its copy.
   */
  publish(hold: BlockHold, index: number, hash: number): void {
    if (index !== hold.cached.length || hold.owned === 0) return;
    const existing = this.#cached.get(hash);
    hold.owned--;
    if (existing) {
      if (existing.refs === 0) this.#idle.delete(hash);
      existing.refs++;
      this.#free++;
    } else {
      this.#cached.set(hash, { hash, refs: 1 });
    }
    hold.cached.push(hash);
  }

  /** Gives back everything `hold` references; cached blocks stay cached until evicted. */
  release(hold: BlockHold): void {
    this.#free += hold.owned;
    hold.owned = 0;
    // Release the tail first so that the head of a prompt, shared most, is evicted last.
    for (let i = hold.cached.length - 1; i >= 0; i--) {
      const hash = hold.cached[i]!;
      const block = this.#cached.get(hash);
      if (!block) continue;
      block.refs--;
      if (block.refs === 0) this.#idle.set(hash, block);
    }
    hold.cached = [];
  }

  #take(count: number): void {
    const fromFree = Math.min(count, this.#free);
    this.#free -= fromFree;
    let rest = count - fromFree;
    for (const [hash] of this.#idle) {
      if (rest === 0) break;
      this.#idle.delete(hash);
      this.#cached.delete(hash);
      this.stats.evictions++;
      rest--;
    }
  }
}

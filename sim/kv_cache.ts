/**
 * KV blocks of a replica: a fixed GPU pool shared by running sequences and an LRU prefix cache,
 * with an optional host tier that keeps a copy of every computed block for loading back later.
 */
import { HostKvTier } from "./host_tier.ts";

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
  /** Prompt tokens found cached on the GPU. */
  hits: number;
  /** Cached blocks dropped to make room. */
  evictions: number;
  /**
   * Prompt tokens looked up in the host tier (vLLM's external_prefix_cache_queries): the same
   * count as `queries` with a host tier, so GPU and host hit rates add up; 0 without one.
   */
  externalQueries: number;
  /** Prompt tokens found in the host tier past the GPU hits (external_prefix_cache_hits). */
  externalHits: number;
}

/** Options of {@linkcode KvCache}. */
export interface KvCacheOptions {
  /** Tokens of the host (CPU) tier; less than a block means no tier. @default 0 */
  hostTokens?: number;
}

/** What {@linkcode KvCache.allocate} reserved. */
export interface Allocation {
  /** The sequence's blocks. */
  hold: BlockHold;
  /** Leading blocks found on the GPU. */
  hitBlocks: number;
  /**
   * Blocks after those found in the host tier: they hold GPU blocks (owned, in `hold`) whose KV
   * must be loaded from host memory instead of computed.
   */
  externalBlocks: number;
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
  readonly #host: HostKvTier | undefined;
  /** Prefix cache counters. */
  readonly stats: PrefixCacheStats = {
    queries: 0,
    hits: 0,
    evictions: 0,
    externalQueries: 0,
    externalHits: 0,
  };

  /** @param totalTokens the GPU KV budget in tokens, @param options the host tier */
  constructor(totalTokens: number, options: KvCacheOptions = {}) {
    this.totalBlocks = Math.max(1, Math.floor(totalTokens / BLOCK_TOKENS));
    this.#free = this.totalBlocks;
    const hostBlocks = Math.floor((options.hostTokens ?? 0) / BLOCK_TOKENS);
    this.#host = hostBlocks >= 1 ? new HostKvTier(hostBlocks) : undefined;
  }

  /** The host tier, if the replica has one. */
  get host(): HostKvTier | undefined {
    return this.#host;
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
   * How many leading blocks of `hashes` need no computing now: those cached on the GPU, then those
   * the host tier holds. Touches nothing.
   */
  reusablePrefixBlocks(hashes: readonly number[]): number {
    const gpu = this.cachedPrefixBlocks(hashes);
    return gpu + this.#hostRun(hashes, gpu, hashes.length);
  }

  /** How many blocks of `hashes` from `start` on are in the host tier, at most `max`. */
  #hostRun(hashes: readonly number[], start: number, max: number): number {
    const host = this.#host;
    if (!host) return 0;
    let n = 0;
    while (n < max && start + n < hashes.length && host.has(hashes[start + n]!)) n++;
    return n;
  }

  /**
   * Reserves blocks for a sequence of `tokens` whose full blocks hash to `hashes`, reusing at most
   * `maxHitBlocks` leading blocks: first those cached on the GPU, then those the host tier holds
   * (external hits: they take new GPU blocks, to be loaded, not computed). Returns the hold and
   * the hits of each kind, or undefined (changing nothing) when the pool cannot fit it.
   */
  allocate(
    hashes: readonly number[],
    tokens: number,
    maxHitBlocks: number,
  ): Allocation | undefined {
    const hitBlocks = Math.min(this.cachedPrefixBlocks(hashes), maxHitBlocks);
    const externalBlocks = this.#hostRun(hashes, hitBlocks, maxHitBlocks - hitBlocks);
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
    this.#host?.touch(hashes.slice(0, hitBlocks + externalBlocks));
    return { hold: { cached, owned: needed }, hitBlocks, externalBlocks };
  }

  /**
   * Counts a prompt lookup for the hit-rate metrics: `hitTokens` found on the GPU and
   * `externalHitTokens` after them in the host tier.
   */
  recordQuery(promptTokens: number, hitTokens: number, externalHitTokens = 0): void {
    this.stats.queries += promptTokens;
    this.stats.hits += hitTokens;
    if (!this.#host) return;
    this.stats.externalQueries += promptTokens;
    this.stats.externalHits += externalHitTokens;
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
   * The host tier, if any, gets a copy (write-through).
   */
  publish(hold: BlockHold, index: number, hash: number): void {
    if (index !== hold.cached.length || hold.owned === 0) return;
    this.#host?.store(hash);
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

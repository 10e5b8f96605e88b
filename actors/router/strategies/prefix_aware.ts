/** `prefix_aware`: the replica that most likely holds the longest cached prefix of the prompt, within a load bound. */
import { boundedLoads, inverseScores } from "./_scores.ts";
import type { BackendView, RequestFeatures, Strategy, StrategyOptions } from "./types.ts";

/** Share of the score given to load, so requests without a cached prefix spread over the replicas. */
export const PREFIX_LOAD_SHARE = 0.1;

/**
 * Least share of the prompt's blocks a replica must hold for its cache to count. A shorter match (a
 * system prompt shared by unrelated single-turn requests) saves little prefill, and following it
 * would gather those requests on whichever replica saw the prompt first; below this share, load
 * decides, and every replica soon holds the shared prompt. A conversation's next turn, which
 * resends its history, matches far more.
 */
export const MIN_PREFIX_SHARE = 0.5;

/**
 * The router's estimate of one replica's prefix cache: the chained block hashes routed to it,
 * least recently used first out once `capacity` is reached (the replica evicts the same way).
 */
export class PrefixIndex {
  // A Map iterates in insertion order: re-inserting a hash makes it the most recent.
  readonly #blocks = new Map<number, true>();
  readonly #capacity: number;

  /** @param capacity blocks the replica's cache holds */
  constructor(capacity: number) {
    this.#capacity = Math.max(1, Math.floor(capacity));
  }

  /** Blocks held. */
  get size(): number {
    return this.#blocks.size;
  }

  /** How many leading hashes of `hashes` are held (chained hashes: a hit at i implies 0..i). */
  match(hashes: readonly number[]): number {
    let n = 0;
    while (n < hashes.length && this.#blocks.has(hashes[n]!)) n++;
    return n;
  }

  /** Records that the replica now holds `hashes`, most recent last, evicting the oldest beyond capacity. */
  insert(hashes: readonly number[]): void {
    // The leading blocks are the most shared: keep them the freshest by inserting them last.
    // A prompt longer than the whole cache keeps only its leading blocks.
    const end = Math.min(hashes.length, this.#capacity);
    for (let i = end - 1; i >= 0; i--) {
      const h = hashes[i]!;
      this.#blocks.delete(h);
      this.#blocks.set(h, true);
    }
    while (this.#blocks.size > this.#capacity) {
      const oldest = this.#blocks.keys().next().value;
      if (oldest === undefined) break;
      this.#blocks.delete(oldest);
    }
  }
}

/**
 * Scores each candidate by the share of the prompt's blocks its estimated cache already holds
 * (weight 1 - {@linkcode PREFIX_LOAD_SHARE}; none below {@linkcode MIN_PREFIX_SHARE}) plus its
 * least-load score (the rest). A durable session's last replica counts as holding at least that
 * share. A candidate whose load is past the bound gets no credit for its cache, so a hot replica sheds
 * requests to the replica with the next longest prefix, or the least busy one.
 */
export function prefixAware(options: StrategyOptions): Strategy {
  const indexes = new Map<string, PrefixIndex>();
  return {
    name: "prefix_aware",
    score(request: RequestFeatures, candidates: readonly BackendView[]): number[] {
      const { costs, within } = boundedLoads(candidates, options.now(), options.loadBound);
      const loads = inverseScores(costs);
      const blocks = request.prefixHashes.length;
      if (blocks === 0 && request.homeBackend === undefined) return loads;
      return candidates.map((c, i) => {
        const loadScore = PREFIX_LOAD_SHARE * loads[i]!;
        if (!within[i]) return loadScore;
        const index = blocks === 0 ? undefined : indexes.get(c.id);
        let share = index === undefined ? 0 : index.match(request.prefixHashes) / blocks;
        // A durable session's last replica most likely still holds its history, even when this
        // process has not routed it (since a restart, or from another gateway process).
        if (c.id === request.homeBackend) share = Math.max(share, MIN_PREFIX_SHARE);
        if (share < MIN_PREFIX_SHARE) return loadScore;
        return (1 - PREFIX_LOAD_SHARE) * share + loadScore;
      });
    },
    observe(request: RequestFeatures, chosen: BackendView): void {
      if (request.prefixHashes.length === 0) return;
      let index = indexes.get(chosen.id);
      if (index === undefined) {
        index = new PrefixIndex(options.prefixCacheBlocks);
        indexes.set(chosen.id, index);
      }
      index.insert(request.prefixHashes);
    },
    forget(backendId: string): void {
      indexes.delete(backendId);
    },
  };
}

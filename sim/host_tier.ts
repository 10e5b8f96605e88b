/**
 * The host (CPU) KV tier of a replica, as vLLM's native KV offloading keeps it: an LRU set of the
 * hashes of blocks copied to host memory, with no reference counts (nothing runs from it).
 */
import { H100_LLAMA_8B } from "./latency.ts";

/** KV tokens that `gib` GiB of host memory hold at the simulated model's bytes of KV a token. */
export function kvTokensInGib(gib: number): number {
  return Math.floor(gib * 2 ** 30 / H100_LLAMA_8B.kvBytesPerToken);
}

/** Block hashes kept in host memory, least recently used first out. */
export class HostKvTier {
  /** Blocks it can hold. */
  readonly capacityBlocks: number;
  /** Hashes, least recently used first (Map keeps insertion order). */
  readonly #blocks = new Map<number, true>();
  /** Blocks dropped to make room. */
  evictions = 0;

  /** @param capacityBlocks how many blocks fit; at least one */
  constructor(capacityBlocks: number) {
    if (!(capacityBlocks >= 1)) throw new RangeError("A host KV tier needs room for a block");
    this.capacityBlocks = Math.floor(capacityBlocks);
  }

  /** Blocks held now. */
  get size(): number {
    return this.#blocks.size;
  }

  /** Whether the block `hash` is held, without refreshing it. */
  has(hash: number): boolean {
    return this.#blocks.has(hash);
  }

  /**
   * Stores the block `hash` (write-through of a block just computed) as the most recently used,
   * dropping the least recently used one when the tier is full.
   */
  store(hash: number): void {
    this.#blocks.delete(hash);
    this.#blocks.set(hash, true);
    if (this.#blocks.size <= this.capacityBlocks) return;
    const [oldest] = this.#blocks.keys();
    this.#blocks.delete(oldest!);
    this.evictions++;
  }

  /**
   * Marks the held ones of `hashes` (a prompt's leading blocks, in order) as used now. The head of
   * a prompt ends up most recent, so it is dropped last: without it the rest are never a hit.
   */
  touch(hashes: readonly number[]): void {
    for (let i = hashes.length - 1; i >= 0; i--) {
      const hash = hashes[i]!;
      if (!this.#blocks.delete(hash)) continue;
      this.#blocks.set(hash, true);
    }
  }
}

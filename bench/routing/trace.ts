/** What a Mooncake-format trace allows: its conversations and the ideal and capped prefix-cache hit rates. */
import { BLOCK_TOKENS, type TraceRequest } from "../../sim/mod.ts";

interface TrieNode {
  children: Map<number, TrieNode>;
  /** The conversation of the latest request through this node, and that request's block count. */
  conversation: number;
  blocks: number;
}

function newNode(): TrieNode {
  return { children: new Map(), conversation: -1, blocks: 0 };
}

/**
 * Assigns each request (in the given order) a conversation number: the same for the same
 * `session_id` where the trace names them. Otherwise a request continues the
 * conversation of the latest earlier request it shares its longest leading run of hash ids with,
 * when that run covers at least half of that request's blocks (a next turn repeats the history);
 * otherwise (a shared system prompt at most) it starts a new conversation.
 */
export function conversations(requests: readonly TraceRequest[]): number[] {
  const root = newNode();
  const result: number[] = [];
  const named = new Map<string, number>();
  let next = 0;
  for (const r of requests) {
    if (r.session_id !== undefined) {
      let conversation = named.get(r.session_id);
      if (conversation === undefined) named.set(r.session_id, conversation = next++);
      result.push(conversation);
      continue;
    }
    let node = root;
    let depth = 0;
    for (const id of r.hash_ids) {
      const child = node.children.get(id);
      if (child === undefined) break;
      node = child;
      depth++;
    }
    const continues = depth > 0 && depth * 2 >= node.blocks;
    const conversation = continues ? node.conversation : next++;
    result.push(conversation);
    node = root;
    for (const id of r.hash_ids) {
      let child = node.children.get(id);
      if (child === undefined) {
        child = newNode();
        node.children.set(id, child);
      }
      child.conversation = conversation;
      child.blocks = r.hash_ids.length;
      node = child;
    }
  }
  return result;
}

/**
 * The ideal prefix-cache hit rate of a trace: the share of all prompt blocks that were already
 * seen, as a leading run, by an earlier request (an infinite cache shared by every replica).
 */
export function idealHitRate(requests: readonly TraceRequest[]): number {
  const root = newNode();
  let hits = 0;
  let total = 0;
  for (const r of requests) {
    let node = root;
    let seen = true;
    for (const id of r.hash_ids) {
      let child = node.children.get(id);
      if (child === undefined) {
        seen = false;
        child = newNode();
        node.children.set(id, child);
      } else if (seen) {
        hits++;
      }
      node = child;
    }
    total += r.hash_ids.length;
  }
  return total === 0 ? 0 : hits / total;
}

/** Options of {@linkcode cappedHitRate}. */
export interface CappedHitRateOptions {
  /** Replicas, each with its own cache. */
  replicas: number;
  /** Blocks each replica's cache holds (its KV budget in tokens over the block size). */
  blocksPerReplica: number;
}

/**
 * A reference hit rate for finite caches: every conversation pinned to one replica (the one
 * with the fewest requests when it starts), each replica's cache an LRU of `blocksPerReplica`
 * blocks. It is what perfect session affinity reaches when the cache, not the router, is the
 * limit, counted as the replicas count their hits: a request caches its full blocks only (a
 * trailing partial one is recomputed by the next turn), never finds the block holding its last
 * prompt token cached (vLLM computes that token), and the rate is of prompt tokens. Running
 * sequences also take KV space on a real replica, so this stays above what one measures.
 */
export function cappedHitRate(
  requests: readonly TraceRequest[],
  options: CappedHitRateOptions,
): number {
  const n = Math.max(1, options.replicas);
  const capacity = Math.max(1, options.blocksPerReplica);
  const caches = Array.from({ length: n }, () => new Map<string, true>());
  const counts = new Array<number>(n).fill(0);
  const homes = new Map<number, number>();
  const convs = conversations(requests);
  let hitTokens = 0;
  let promptTokens = 0;
  requests.forEach((r, i) => {
    const conv = convs[i]!;
    let home = homes.get(conv);
    if (home === undefined) {
      home = counts.indexOf(Math.min(...counts));
      homes.set(conv, home);
    }
    counts[home]!++;
    const cache = caches[home]!;
    const full = Math.min(r.hash_ids.length, Math.floor(r.input_length / BLOCK_TOKENS));
    const reusable = Math.min(full, Math.floor((r.input_length - 1) / BLOCK_TOKENS));
    // Chained keys: a block is the same only after the same prefix.
    const keys: string[] = [];
    let key = "";
    for (let k = 0; k < full; k++) {
      key = `${key}/${r.hash_ids[k]}`;
      keys.push(key);
    }
    let matched = 0;
    while (matched < reusable && cache.has(keys[matched]!)) matched++;
    hitTokens += matched * BLOCK_TOKENS;
    promptTokens += r.input_length;
    for (let k = Math.min(keys.length, capacity) - 1; k >= 0; k--) {
      cache.delete(keys[k]!);
      cache.set(keys[k]!, true);
    }
    while (cache.size > capacity) cache.delete(cache.keys().next().value!);
  });
  return promptTokens === 0 ? 0 : hitTokens / promptTokens;
}

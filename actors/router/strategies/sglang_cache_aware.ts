/**
 * `sglang_cache_aware`: the cache-aware policy of SGLang's model gateway (sgl-router, now
 * sgl-model-gateway), for users who know it and as a peer in `bench routing`.
 *
 * How it decides, from the policy's published description and source
 * (github.com/sgl-project/sglang, `sgl-router/src/policies/cache_aware.rs` and `tree.rs`,
 * `sgl-model-gateway/src/policies/cache_aware.rs`):
 * 1. Load is the requests the router has in flight on each worker. When
 *    `max - min > balance_abs_threshold` and `max > min * balance_rel_threshold`, the load is
 *    imbalanced and the request goes to the worker with the fewest (shortest queue).
 * 2. Otherwise it walks one approximate radix tree of request text shared by all workers (each node
 *    records which workers it was routed to, and when), finds the longest prefix of the prompt any
 *    worker holds, and if that match covers more than `cache_threshold` of the prompt's characters,
 *    routes to a worker holding it; else to the worker whose tree holds the fewest characters
 *    (the most free cache space).
 * 3. Either way the prompt text is inserted into the tree for the chosen worker.
 * 4. Every `eviction_interval_secs`, each worker's least recently used leaves are evicted until it
 *    holds at most `max_tree_size` characters.
 *
 * Defaults are those of the router's command line, `sgl-router/py_src/sglang_router/router_args.py`
 * (`RouterArgs`): cache_threshold 0.3, balance_abs_threshold 64, balance_rel_threshold 1.5,
 * eviction_interval_secs 120, max_tree_size 2^26 (67,108,864 characters per worker). (The Rust
 * `CacheAwareConfig::default()` has other values, 0.5 / 32 / 1.1 / 30 / 10,000; the CLI's are what a
 * deployment gets.) The text is the one `RequestFeatures.promptText` carries (the router joins a
 * chat's message contents; this one also keeps the roles, which changes no decision).
 *
 * Where turnpike differs: among several workers holding the deepest matched node, sgl-router takes
 * the first its concurrent map yields (arbitrary); this takes the first that reached the node and is
 * among the candidates. Eviction runs on the first routed request after each interval rather than on
 * a background thread, so the strategy stays a plain object.
 */
import type { BackendView, RequestFeatures, Strategy, StrategyOptions } from "./types.ts";

/** The policy's parameters, named as sgl-router names them. */
export interface SglangCacheAwareConfig {
  /** Least share of the prompt's characters a worker must hold to be routed to for its cache. */
  cache_threshold: number;
  /** In-flight spread (max - min) past which load is imbalanced (with the relative test). */
  balance_abs_threshold: number;
  /** Ratio max / min past which load is imbalanced (with the absolute test). */
  balance_rel_threshold: number;
  /** Seconds between eviction passes over the tree. */
  eviction_interval_secs: number;
  /** Characters each worker's part of the tree may hold after an eviction pass. */
  max_tree_size: number;
}

/** sgl-router's command-line defaults (`router_args.py`). */
export const SGLANG_DEFAULTS: Readonly<SglangCacheAwareConfig> = {
  cache_threshold: 0.3,
  balance_abs_threshold: 64,
  balance_rel_threshold: 1.5,
  eviction_interval_secs: 120,
  max_tree_size: 2 ** 26,
};

interface TreeNode {
  /** The characters on the edge into this node. */
  text: string;
  /** Children by the first character code of their edge. */
  readonly children: Map<number, TreeNode>;
  /** Workers routed through this node, with when they last were (ms); insertion order is kept. */
  readonly tenants: Map<string, number>;
  parent: TreeNode | undefined;
}

function newNode(text: string, parent: TreeNode | undefined): TreeNode {
  return { text, children: new Map(), tenants: new Map(), parent };
}

/**
 * A string of its own: a slice of a long prompt would keep the whole prompt alive in V8 for as
 * long as the tree holds the slice. Concatenating and reading a character makes V8 flatten a copy.
 */
function ownCopy(text: string): string {
  if (text.length < 64) return text;
  const copy = text + "\u0000";
  copy.charCodeAt(0);
  return copy.slice(0, -1);
}

/** How many leading characters `edge` shares with `text` from position `from` on. */
function sharedLength(edge: string, text: string, from: number): number {
  const n = Math.min(edge.length, text.length - from);
  let i = 0;
  while (i < n && edge.charCodeAt(i) === text.charCodeAt(from + i)) i++;
  return i;
}

/** A binary min-heap of eviction entries by last access time. */
class EvictionHeap {
  readonly #items: { at: number; tenant: string; node: TreeNode }[] = [];

  get size(): number {
    return this.#items.length;
  }

  push(item: { at: number; tenant: string; node: TreeNode }): void {
    const a = this.#items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]!.at <= a[i]!.at) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }

  pop(): { at: number; tenant: string; node: TreeNode } | undefined {
    const a = this.#items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      while (true) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l]!.at < a[m]!.at) m = l;
        if (r < a.length && a[r]!.at < a[m]!.at) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}

/** The result of {@linkcode ApproxTree.match}: matched characters and the worker holding them. */
export interface TreeMatch {
  /** Leading characters of the prompt held. */
  chars: number;
  /** A worker holding them; undefined when no candidate holds any. */
  tenant: string | undefined;
}

/**
 * The approximate radix tree: one tree of request text for all workers (tenants), each node
 * listing the workers whose requests passed through it, with per-worker character counts and
 * least-recently-used leaf eviction.
 */
export class ApproxTree {
  readonly #root = newNode("", undefined);
  readonly #chars = new Map<string, number>();

  /** Characters held for `tenant` (0 for an unknown one). */
  charsOf(tenant: string): number {
    return this.#chars.get(tenant) ?? 0;
  }

  /** Every tenant the tree knows, with its character count. */
  tenants(): ReadonlyMap<string, number> {
    return this.#chars;
  }

  /** Nodes in the tree, the root excluded (for tests and memory figures). */
  get nodeCount(): number {
    let n = 0;
    const stack = [...this.#root.children.values()];
    while (stack.length > 0) {
      const node = stack.pop()!;
      n++;
      for (const c of node.children.values()) stack.push(c);
    }
    return n;
  }

  #touch(node: TreeNode, tenant: string, nowMs: number): void {
    if (!node.tenants.has(tenant)) {
      this.#chars.set(tenant, this.charsOf(tenant) + node.text.length);
    }
    node.tenants.set(tenant, nowMs);
  }

  /** Records that `tenant` was sent `text`: every node on its path is marked as the tenant's, now. */
  insert(text: string, tenant: string, nowMs: number): void {
    let node = this.#root;
    this.#touch(node, tenant, nowMs);
    let i = 0;
    while (i < text.length) {
      const first = text.charCodeAt(i);
      const child = node.children.get(first);
      if (child === undefined) {
        const leaf = newNode(ownCopy(text.slice(i)), node);
        node.children.set(first, leaf);
        this.#touch(leaf, tenant, nowMs);
        return;
      }
      const shared = sharedLength(child.text, text, i);
      if (shared < child.text.length) {
        // Split the edge: a new node for the shared part, the old node below it.
        const head = newNode(child.text.slice(0, shared), node);
        for (const [t, at] of child.tenants) head.tenants.set(t, at);
        child.text = child.text.slice(shared);
        child.parent = head;
        head.children.set(child.text.charCodeAt(0), child);
        node.children.set(first, head);
        node = head;
      } else {
        node = child;
      }
      this.#touch(node, tenant, nowMs);
      i += shared;
    }
  }

  /**
   * The longest prefix of `text` the tree holds for any tenant in `among` (all tenants when
   * undefined), and the first such tenant to have reached it. A match that ends inside an edge
   * counts its characters, as sgl-router's does. The chosen tenant's path is marked accessed.
   */
  match(text: string, among?: ReadonlySet<string>, nowMs?: number): TreeMatch {
    // The nodes on the path with the characters matched on reaching each.
    const path: { node: TreeNode; chars: number }[] = [];
    let node = this.#root;
    let i = 0;
    while (i < text.length) {
      const child = node.children.get(text.charCodeAt(i));
      if (child === undefined) break;
      const shared = sharedLength(child.text, text, i);
      i += shared;
      path.push({ node: child, chars: i });
      if (shared < child.text.length) break;
      node = child;
    }
    for (let k = path.length - 1; k >= 0; k--) {
      const step = path[k]!;
      for (const tenant of step.node.tenants.keys()) {
        if (among !== undefined && !among.has(tenant)) continue;
        if (nowMs !== undefined) {
          for (let n: TreeNode | undefined = step.node; n !== undefined; n = n.parent) {
            if (n.tenants.has(tenant)) n.tenants.set(tenant, nowMs);
          }
        }
        return { chars: step.chars, tenant };
      }
    }
    return { chars: 0, tenant: undefined };
  }

  /** Whether `node` is a leaf for `tenant`: it holds the tenant and no child does. */
  static #leafFor(node: TreeNode, tenant: string): boolean {
    if (!node.tenants.has(tenant)) return false;
    for (const c of node.children.values()) if (c.tenants.has(tenant)) return false;
    return true;
  }

  #dropTenant(node: TreeNode, tenant: string): void {
    if (!node.tenants.delete(tenant)) return;
    this.#chars.set(tenant, Math.max(0, this.charsOf(tenant) - node.text.length));
    const parent = node.parent;
    if (parent !== undefined && node.tenants.size === 0 && node.children.size === 0) {
      parent.children.delete(node.text.charCodeAt(0));
    }
  }

  /**
   * Evicts, least recently used leaf first, until every tenant holds at most `maxChars`
   * characters (sgl-router's `evict_tenant_by_size`).
   */
  evictTo(maxChars: number): void {
    const over = new Set<string>();
    for (const [t, n] of this.#chars) if (n > maxChars) over.add(t);
    if (over.size === 0) return;
    const heap = new EvictionHeap();
    const stack = [...this.#root.children.values()];
    while (stack.length > 0) {
      const node = stack.pop()!;
      for (const c of node.children.values()) stack.push(c);
      for (const [tenant, at] of node.tenants) {
        if (over.has(tenant) && ApproxTree.#leafFor(node, tenant)) heap.push({ at, tenant, node });
      }
    }
    while (heap.size > 0) {
      const { tenant, node } = heap.pop()!;
      if (this.charsOf(tenant) <= maxChars) continue;
      this.#dropTenant(node, tenant);
      const parent = node.parent;
      if (parent !== undefined && parent !== this.#root && ApproxTree.#leafFor(parent, tenant)) {
        heap.push({ at: parent.tenants.get(tenant)!, tenant, node: parent });
      }
    }
  }

  /** Removes `tenant` from every node (a worker that left). */
  remove(tenant: string): void {
    const stack = [...this.#root.children.values()];
    const holding: TreeNode[] = [];
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (node.tenants.has(tenant)) holding.push(node);
      for (const c of node.children.values()) stack.push(c);
    }
    // Deepest first, so that emptied leaves unlink before their parents are looked at.
    for (let k = holding.length - 1; k >= 0; k--) this.#dropTenant(holding[k]!, tenant);
    this.#root.tenants.delete(tenant);
    this.#chars.delete(tenant);
  }
}

/** Why the policy chose as it did, for tests and explanations. */
export type SglangDecision = "imbalanced" | "cache_match" | "smallest_tree";

/** The policy's choice among `candidates`: an index and which rule made it. */
export function sglangChoose(
  tree: ApproxTree,
  text: string,
  candidates: readonly BackendView[],
  config: SglangCacheAwareConfig,
  nowMs?: number,
): { index: number; decision: SglangDecision } {
  let min = Infinity;
  let max = -Infinity;
  let minIndex = 0;
  for (let i = 0; i < candidates.length; i++) {
    const load = candidates[i]!.inFlight;
    if (load < min) {
      min = load;
      minIndex = i;
    }
    if (load > max) max = load;
  }
  if (max - min > config.balance_abs_threshold && max > min * config.balance_rel_threshold) {
    return { index: minIndex, decision: "imbalanced" };
  }
  const ids = new Set(candidates.map((c) => c.id));
  const found = text.length === 0 ? { chars: 0, tenant: undefined } : tree.match(text, ids, nowMs);
  const rate = text.length === 0 ? 0 : found.chars / text.length;
  if (rate > config.cache_threshold && found.tenant !== undefined) {
    const index = candidates.findIndex((c) => c.id === found.tenant);
    if (index >= 0) return { index, decision: "cache_match" };
  }
  let smallest = 0;
  let fewest = Infinity;
  for (let i = 0; i < candidates.length; i++) {
    const chars = tree.charsOf(candidates[i]!.id);
    if (chars < fewest) {
      fewest = chars;
      smallest = i;
    }
  }
  return { index: smallest, decision: "smallest_tree" };
}

/**
 * Builds the policy with sgl-router's defaults (`config` overrides them). Scores 1 for the worker
 * the policy picks and 0 for the others; the chosen worker's tree learns the prompt.
 */
export function sglangCacheAware(
  options: StrategyOptions,
  config: Partial<SglangCacheAwareConfig> = {},
): Strategy {
  const settings: SglangCacheAwareConfig = { ...SGLANG_DEFAULTS, ...config };
  const tree = new ApproxTree();
  let lastEviction = options.now();
  return {
    name: "sglang_cache_aware",
    score(request: RequestFeatures, candidates: readonly BackendView[]): number[] {
      const { index } = sglangChoose(
        tree,
        request.promptText ?? "",
        candidates,
        settings,
        options.now(),
      );
      return candidates.map((_, i) => (i === index ? 1 : 0));
    },
    observe(request: RequestFeatures, chosen: BackendView): void {
      const now = options.now();
      tree.insert(request.promptText ?? "", chosen.id, now);
      if (now - lastEviction >= settings.eviction_interval_secs * 1000) {
        lastEviction = now;
        tree.evictTo(settings.max_tree_size);
      }
    },
    forget(backendId: string): void {
      tree.remove(backendId);
    },
  };
}

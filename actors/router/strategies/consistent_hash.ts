/**
 * `consistent_hash`: vLLM production-stack's session router, for users who know it and as a peer
 * in `bench routing`.
 *
 * From its source (github.com/vllm-project/production-stack,
 * `src/vllm_router/routers/routing_logic.py`, `SessionRouter`): a request carrying the session key
 * goes to the node a consistent-hash ring (the `uhashring` package's `HashRing()`) gives for the
 * session id, the ring holding the current endpoints by URL; a request without one goes to the
 * endpoint with the lowest QPS, an endpoint with no request statistics at all first.
 *
 * The ring, from `uhashring` (github.com/ultrabug/uhashring, `ring.py`, `ring_meta.py`), as
 * `HashRing()` builds it with no arguments: 160 virtual nodes a node (`vnodes` default), point
 * `w` of node `n` at the MD5 of `"{n}-{w}"` read as a 128-bit integer, a key at the MD5 of the key;
 * the key belongs to the first point after it clockwise (`bisect`), wrapping to the first point.
 * QPS is the requests routed to an endpoint over the router's sliding window,
 * `--request-stats-window` 60 s by default (`src/vllm_router/parsers/parser.py`).
 *
 * Where turnpike differs: the ring keeps every backend it has seen until the router forgets it,
 * and a session whose node is not a candidate now (excluded after a failure, or full under
 * admission caps) walks clockwise to the next candidate's point, which is where the rebuilt ring
 * of production-stack would send it. The session key is turnpike's session header.
 */
import { createHash } from "node:crypto";
import type { BackendView, RequestFeatures, Strategy, StrategyOptions } from "./types.ts";

/** uhashring's default virtual nodes per node. */
export const RING_VNODES = 160;

/** production-stack's default request-statistics window, in ms. */
export const QPS_WINDOW_MS = 60_000;

/** MD5 of `text` as 32 hex digits: equal-length hex strings order as the integers do. */
function md5Hex(text: string): string {
  return createHash("md5").update(text).digest("hex");
}

/** A consistent-hash ring of node names (backend URLs). */
export class HashRing {
  /** Points in ascending order, each with its node. */
  #points: { at: string; node: string }[] = [];
  readonly #nodes = new Set<string>();
  readonly #vnodes: number;

  /** @param vnodes virtual nodes per node */
  constructor(vnodes = RING_VNODES) {
    this.#vnodes = vnodes;
  }

  /** The nodes on the ring. */
  get nodes(): ReadonlySet<string> {
    return this.#nodes;
  }

  /** Adds `node`'s points (no change when it is already on the ring). */
  add(node: string): void {
    if (this.#nodes.has(node)) return;
    this.#nodes.add(node);
    for (let w = 0; w < this.#vnodes; w++) this.#points.push({ at: md5Hex(`${node}-${w}`), node });
    this.#points.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  }

  /** Removes `node`'s points. */
  remove(node: string): void {
    if (!this.#nodes.delete(node)) return;
    this.#points = this.#points.filter((p) => p.node !== node);
  }

  /**
   * The node `key` belongs to: the first point after the key's hash, clockwise, whose node is
   * accepted by `accept` (every node when omitted); undefined on an empty ring or when none is.
   */
  get(key: string, accept?: (node: string) => boolean): string | undefined {
    const points = this.#points;
    const n = points.length;
    if (n === 0) return undefined;
    const h = md5Hex(key);
    // bisect_right: the first point strictly greater than h.
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (points[mid]!.at <= h) lo = mid + 1;
      else hi = mid;
    }
    for (let k = 0; k < n; k++) {
      const node = points[(lo + k) % n]!.node;
      if (accept === undefined || accept(node)) return node;
    }
    return undefined;
  }
}

/** Requests routed to each endpoint within a sliding window, for the lowest-QPS choice. */
export class QpsWindow {
  readonly #arrivals = new Map<string, { times: number[]; head: number }>();
  readonly #windowMs: number;

  /** @param windowMs the window's length */
  constructor(windowMs = QPS_WINDOW_MS) {
    this.#windowMs = windowMs;
  }

  /** Counts a request routed to `url` at `nowMs`. */
  record(url: string, nowMs: number): void {
    let entry = this.#arrivals.get(url);
    if (entry === undefined) {
      entry = { times: [], head: 0 };
      this.#arrivals.set(url, entry);
    }
    entry.times.push(nowMs);
  }

  /** Requests per second to `url` over the window ending at `nowMs`; undefined for one never routed to. */
  qps(url: string, nowMs: number): number | undefined {
    const entry = this.#arrivals.get(url);
    if (entry === undefined) return undefined;
    const from = nowMs - this.#windowMs;
    while (entry.head < entry.times.length && entry.times[entry.head]! < from) entry.head++;
    if (entry.head > 1024 && entry.head * 2 > entry.times.length) {
      entry.times = entry.times.slice(entry.head);
      entry.head = 0;
    }
    return (entry.times.length - entry.head) / (this.#windowMs / 1000);
  }

  /** Drops `url`'s statistics. */
  remove(url: string): void {
    this.#arrivals.delete(url);
  }
}

/**
 * The session router's choice among `candidates`: the session's ring node, or without a session
 * the first candidate never routed to, else the first with the lowest QPS.
 */
export function sessionRouterChoice(
  ring: HashRing,
  qps: QpsWindow,
  sessionId: string | undefined,
  candidates: readonly BackendView[],
  nowMs: number,
): number {
  if (sessionId !== undefined) {
    for (const c of candidates) ring.add(c.url);
    const urls = new Set(candidates.map((c) => c.url));
    const node = ring.get(sessionId, (u) => urls.has(u));
    const index = candidates.findIndex((c) => c.url === node);
    if (index >= 0) return index;
  }
  let best = 0;
  let lowest = Infinity;
  for (let i = 0; i < candidates.length; i++) {
    const q = qps.qps(candidates[i]!.url, nowMs);
    if (q === undefined) return i;
    if (q < lowest) {
      lowest = q;
      best = i;
    }
  }
  return best;
}

/** Scores 1 for the session router's choice and 0 for the others; counts every routed request. */
export function consistentHash(options: StrategyOptions): Strategy {
  const ring = new HashRing();
  const qps = new QpsWindow();
  const urlOf = new Map<string, string>();
  return {
    name: "consistent_hash",
    score(request: RequestFeatures, candidates: readonly BackendView[]): number[] {
      for (const c of candidates) urlOf.set(c.id, c.url);
      const index = sessionRouterChoice(ring, qps, request.sessionId, candidates, options.now());
      return candidates.map((_, i) => (i === index ? 1 : 0));
    },
    observe(_request: RequestFeatures, chosen: BackendView): void {
      qps.record(chosen.url, options.now());
    },
    forget(backendId: string): void {
      const url = urlOf.get(backendId);
      if (url === undefined) return;
      urlOf.delete(backendId);
      ring.remove(url);
      qps.remove(url);
    },
  };
}

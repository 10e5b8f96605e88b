/** `prefix_aware`: the replica that most likely holds the longest cached prefix of the prompt, within a load bound. */
import { BoundedLoads } from "./_scores.ts";
import { LruKeys } from "./_lru_keys.ts";
import type {
  BackendView,
  CacheReport,
  RequestFeatures,
  Strategy,
  StrategyOptions,
} from "./types.ts";

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
 * Characters of uncached prompt that weigh as much in a replica's load as one more request. A
 * request's time to first token is mostly the prefill queued ahead of it, and requests differ in
 * that by two orders of magnitude (a cached follow-up turn against a fresh 30k-token prompt), so
 * each replica's load counts, beside its requests, the prompt characters this router sent it that
 * its cache was not expected to hold, until those requests' first tokens (or their ends). Chosen
 * on the virtual clock (`bench routing --virtual`, 4 replicas) among 4,000 to 32,000: against
 * request counts alone, 8,000 (about 2,000 tokens) cut prefix_aware's mean TTFT by 25% and its p99
 * by 42% on the synthetic trace (by 21% and 27% with a 400 GiB host tier, by 34% and 38% at 64
 * replicas), and its p99 by 26% on the mixed single-turn trace, with the same prefix hits.
 */
export const PENDING_CHARS_PER_REQUEST = 8_000;

/**
 * How many times its own prompt's characters of uncached prefill a session's last replica may
 * have queued beyond the least such queue among the candidates and still count as holding the
 * session's history (the home hint). Waiting behind more prefill there costs longer than
 * computing the whole prompt elsewhere; a 191k-token prompt then held every turn that followed
 * the hint for seconds. Chosen on the virtual clock among 1 to 8 with the gateways' session
 * homes modelled: 4 cut the synthetic trace's p99 TTFT from 2816 to 832 ms (4 replicas, GPU
 * cache only) and kept two gateways' prefix hits at 91% of one's; 1 and 2 lost those hits, 8
 * kept most of the tail.
 */
export const HOME_PENDING_PROMPTS = 4;

/** A request noted by {@linkcode PrefixIndex.begin} counts as in flight for this long at most, in ms. */
export const IN_FLIGHT_MAX_MS = 10 * 60_000;
/** Reports without an eviction that bring a lowered capacity most of the way back (see {@linkcode PrefixIndex.recover}). */
const RECOVERY_STEPS = 64;
/** Most requests a {@linkcode PrefixIndex} notes as in flight; the oldest are let go first. */
const IN_FLIGHT_MAX = 4_096;

/**
 * The index's key for a block hash: its low 30 bits, a small integer its table
 * ({@linkcode LruKeys}) keeps in an Int32Array; the AND is one machine instruction on the
 * 52-bit double. Two of a replica's few thousand blocks then share a key about once in 10^6
 * lookups, a mistake the estimate absorbs like any other.
 */
function key(hash: number): number {
  return hash & 0x3fff_ffff;
}

/** Bounds of a {@linkcode PrefixIndex}'s capacity as the replica's reports move it. */
export interface PrefixIndexBounds {
  /** Fewest blocks. @default 1 */
  min?: number;
  /** Most blocks. @default the starting capacity */
  max?: number;
}

/**
 * The router's estimate of one replica's prefix cache: the chained block hashes routed to it,
 * least recently used first out once `capacity` is reached (the replica evicts the same way).
 *
 * The replica's own reports correct it (see {@linkcode prefixAware}'s `learn`): a block the
 * replica no longer held takes every block held at least as long with it ({@linkcode dropThrough},
 * which also brings the capacity towards what is left), and a block the index had pushed out
 * for room that the replica still held makes room for more ({@linkcode grow}).
 */
export class PrefixIndex {
  // Key to stamp, least recently inserted first: every (re)insert takes a new, larger stamp.
  readonly #blocks: LruKeys;
  /** Keys this index pushed out for room, oldest first, at most as many as it started with room for. */
  readonly #ghosts: LruKeys;
  /** The clock at each in-flight request's insert (increasing keys), with when it began, in ms. */
  readonly #inFlight = new Map<number, number>();
  #capacity: number;
  readonly #ghostCapacity: number;
  readonly #min: number;
  readonly #max: number;
  #stamp = 0;

  /** @param capacity blocks the replica's cache holds, @param bounds how far reports may move it */
  constructor(capacity: number, bounds: PrefixIndexBounds = {}) {
    this.#capacity = Math.max(1, Math.floor(capacity));
    this.#ghostCapacity = this.#capacity;
    this.#min = Math.max(1, Math.floor(bounds.min ?? 1));
    this.#max = Math.max(this.#capacity, Math.floor(bounds.max ?? this.#capacity));
    this.#blocks = new LruKeys(this.#capacity);
    this.#ghosts = new LruKeys(this.#ghostCapacity);
  }

  /** Blocks held. */
  get size(): number {
    return this.#blocks.size;
  }

  /** Blocks it holds at most now. */
  get capacity(): number {
    return this.#capacity;
  }

  /** How many leading hashes of `hashes` are held (chained hashes: a hit at i implies 0..i). */
  match(hashes: readonly number[]): number {
    const blocks = this.#blocks;
    let n = 0;
    while (n < hashes.length && blocks.has(key(hashes[n]!))) n++;
    return n;
  }

  /** The stamps of the leading held hashes of `hashes` (as many as {@linkcode match} counts). */
  stamps(hashes: readonly number[]): number[] {
    // Sized once for the longest run, then cut: pushing grew the array three times for a long prompt.
    const stamps = new Array<number>(hashes.length);
    let n = 0;
    for (; n < hashes.length; n++) {
      const stamp = this.#blocks.stamp(key(hashes[n]!));
      if (stamp === undefined) break;
      stamps[n] = stamp;
    }
    stamps.length = n;
    return stamps;
  }

  /** Whether this index pushed `hash` out for room (and has not held it since). */
  pushedOut(hash: number): boolean {
    return this.#ghosts.has(key(hash));
  }

  /** Records that the replica now holds `hashes`, most recent last, evicting the oldest beyond capacity. */
  insert(hashes: readonly number[]): void {
    // The leading blocks are the most shared: keep them the freshest by inserting them last.
    // A prompt longer than the whole cache keeps only its leading blocks.
    const end = Math.min(hashes.length, this.#capacity);
    for (let i = end - 1; i >= 0; i--) {
      const h = key(hashes[i]!);
      // A held block is never among those pushed out: only a new one may have been.
      if (this.#blocks.add(h, ++this.#stamp) && this.#ghosts.size > 0) this.#ghosts.delete(h);
    }
    this.#trim();
  }

  /**
   * Notes that a request routed here at `nowMs` is about to insert its blocks, and returns the
   * clock up to which every block came from a request that has ended (see {@linkcode end}): a
   * block the replica lacks is evidence of an eviction only then, not while the request that
   * brings it may still be waiting or prefilling there. A request that never ends is let go after
   * {@linkcode IN_FLIGHT_MAX_MS}.
   */
  begin(nowMs: number): number {
    for (const [clock, at] of this.#inFlight) {
      if (nowMs - at <= IN_FLIGHT_MAX_MS && this.#inFlight.size < IN_FLIGHT_MAX) break;
      this.#inFlight.delete(clock);
    }
    const settled = this.#inFlight.keys().next().value ?? this.#stamp;
    this.#inFlight.set(this.#stamp, nowMs);
    return settled;
  }

  /** The request that {@linkcode begin} noted at `clock` has ended: its blocks are computed. */
  end(clock: number): void {
    this.#inFlight.delete(clock);
  }

  /** The stamp the last insert gave; a block's age is how far the clock moved since its own. */
  get clock(): number {
    return this.#stamp;
  }

  /**
   * The replica no longer held a block this index gave `stamp`, when the clock read `atClock`.
   * Under LRU every block held at least as long went before it, so they are dropped; and the
   * replica made room with fewer blocks than were inserted after it, so the capacity comes down
   * to that many at most (blocks this index never saw, another gateway's, took the rest).
   * Returns how many blocks were dropped.
   */
  dropThrough(stamp: number, atClock: number = this.#stamp): number {
    let dropped = 0;
    for (let oldest = this.#blocks.oldestStamp; oldest !== undefined && oldest <= stamp;) {
      this.#blocks.shift();
      dropped++;
      oldest = this.#blocks.oldestStamp;
    }
    const newer = Math.max(0, atClock - stamp);
    this.#capacity = Math.min(this.#max, Math.max(this.#min, Math.min(this.#capacity, newer)));
    this.#trim();
    return dropped;
  }

  /**
   * A report that confirmed a prediction of cached blocks: a capacity brought down by evictions
   * (perhaps under a passing load, whose running requests held KV) comes back a 64th of the way
   * to where it started, so it does not stay low once the replica has room again.
   */
  recover(): void {
    if (this.#capacity >= this.#ghostCapacity) return;
    this.#capacity += Math.ceil((this.#ghostCapacity - this.#capacity) / RECOVERY_STEPS);
  }

  /** The replica held `blocks` more than this index had room for: the capacity grows by as many. */
  grow(blocks: number): void {
    this.#capacity = Math.min(this.#max, this.#capacity + Math.max(0, Math.floor(blocks)));
  }

  #trim(): void {
    while (this.#blocks.size > this.#capacity) {
      const oldest = this.#blocks.shift();
      if (oldest === undefined) break;
      this.#ghosts.add(oldest, 0);
    }
    while (this.#ghosts.size > this.#ghostCapacity) this.#ghosts.shift();
  }
}

/**
 * Leading prefix blocks of `request` that a replica reporting `report` found cached, and the most
 * it could have: the replica counts tokens, the index blocks of characters, and the request's own
 * ratio converts. A replica always computes the prompt's last token (vLLM never serves a whole
 * prompt from its cache), so the block holding it never counts as a hit.
 */
export function reportedBlocks(
  request: RequestFeatures,
  report: CacheReport,
  blockChars: number,
): { reported: number; reusable: number } {
  if (report.promptTokens <= 0) return { reported: 0, reusable: 0 };
  const charsPerToken = request.promptChars / report.promptTokens;
  return {
    reported: Math.round((report.cachedTokens * charsPerToken) / blockChars),
    reusable: Math.floor(((report.promptTokens - 1) * charsPerToken) / blockChars),
  };
}

/** What prefix_aware expected of the replica it chose for one request, kept until the replica reports. */
class Prediction {
  constructor(
    /** The strategy's indexes by backend id: whose prediction this is. */
    readonly owner: ReadonlyMap<string, PrefixIndex>,
    readonly backendId: string,
    readonly index: PrefixIndex,
    /** Stamps of the leading blocks the index held, before the request's own insert. */
    readonly stamps: readonly number[],
    /** The index's clock then. */
    readonly clock: number,
    /** The clock up to which every block came from a request that had ended by then. */
    readonly settled: number,
    /** Whether the index had pushed the first block past those out for room. */
    readonly nextPushedOut: boolean,
    /** Uncached prompt characters counted on the backend until the first token; 0 once let go. */
    public pendingChars: number,
  ) {}
}

/**
 * Scores each candidate by the share of the prompt's blocks its estimated cache already holds
 * (weight 1 - {@linkcode PREFIX_LOAD_SHARE}; none below {@linkcode MIN_PREFIX_SHARE}) plus its
 * least-load score (the rest), whose load counts beside its requests the uncached prompt awaiting
 * a first token there ({@linkcode PENDING_CHARS_PER_REQUEST}). A durable session's last replica
 * counts as holding at least that share, unless it has far more prefill queued than another
 * candidate ({@linkcode HOME_PENDING_PROMPTS}). A candidate whose load is past the bound gets no credit
 * for its cache, so a hot replica sheds requests to the replica with the next longest prefix, or
 * the least busy one.
 */
export function prefixAware(options: StrategyOptions): Strategy {
  const indexes = new Map<string, PrefixIndex>();
  const blockChars = options.prefixBlockChars;
  const bounded = new BoundedLoads();
  // Uncached prompt characters of the requests sent to each backend that await their first token.
  const pendingChars = new Map<string, number>();
  const pendingLoad = (view: BackendView): number =>
    (pendingChars.get(view.id) ?? 0) / PENDING_CHARS_PER_REQUEST;
  const addPending = (backendId: string, chars: number): void => {
    const total = (pendingChars.get(backendId) ?? 0) + chars;
    if (total > 0) pendingChars.set(backendId, total);
    else pendingChars.delete(backendId);
  };
  const letGo = (prediction: Prediction): void => {
    if (prediction.pendingChars === 0) return;
    addPending(prediction.backendId, -prediction.pendingChars);
    prediction.pendingChars = 0;
  };
  // The session's last replica, unless the prefill queued there beyond the least queue among the
  // candidates is more than HOME_PENDING_PROMPTS times the whole prompt's.
  const homeHint = (
    request: RequestFeatures,
    candidates: readonly BackendView[],
  ): string | undefined => {
    const home = request.homeBackend;
    if (home === undefined || pendingChars.size === 0) return home;
    let least = Infinity;
    for (const c of candidates) least = Math.min(least, pendingChars.get(c.id) ?? 0);
    const queued = (pendingChars.get(home) ?? 0) - least;
    return queued > HOME_PENDING_PROMPTS * request.promptChars ? undefined : home;
  };
  const indexOf = (backendId: string): PrefixIndex => {
    let index = indexes.get(backendId);
    if (index === undefined) {
      index = new PrefixIndex(options.prefixCacheBlocks, { max: options.prefixCacheBlocks * 4 });
      indexes.set(backendId, index);
    }
    return index;
  };
  const ownPrediction = (request: RequestFeatures): Prediction | undefined => {
    const prediction = request.prefixPrediction;
    return prediction instanceof Prediction && prediction.owner === indexes
      ? prediction
      : undefined;
  };
  return {
    name: "prefix_aware",
    score(request: RequestFeatures, candidates: readonly BackendView[]): number[] {
      const { scores: loads, within } = bounded.measure(
        candidates,
        options.now(),
        options.loadBound,
        pendingChars.size > 0 ? pendingLoad : undefined,
      );
      const blocks = request.prefixHashes.length;
      if (blocks === 0 && request.homeBackend === undefined) {
        return bounded.scoreList();
      }
      const home = homeHint(request, candidates);
      return candidates.map((c, i) => {
        const loadScore = PREFIX_LOAD_SHARE * loads[i]!;
        if (!within[i]) return loadScore;
        const index = blocks === 0 ? undefined : indexes.get(c.id);
        let share = index === undefined ? 0 : index.match(request.prefixHashes) / blocks;
        // A durable session's last replica most likely still holds its history, even when this
        // process has not routed it (since a restart, or from another gateway process).
        if (c.id === home) share = Math.max(share, MIN_PREFIX_SHARE);
        if (share < MIN_PREFIX_SHARE) return loadScore;
        return (1 - PREFIX_LOAD_SHARE) * share + loadScore;
      });
    },
    observe(request: RequestFeatures, chosen: BackendView): void {
      if (request.prefixHashes.length === 0) return;
      const index = indexOf(chosen.id);
      const stamps = index.stamps(request.prefixHashes);
      const next = request.prefixHashes[stamps.length];
      const clock = index.clock;
      // A retry's pick comes after its earlier attempt ended: let that one go if not told yet.
      const earlier = ownPrediction(request);
      if (earlier !== undefined) letGo(earlier);
      const uncached = Math.max(0, request.promptChars - stamps.length * blockChars);
      // On the request itself, so nothing outlives it (a WeakMap's table churned with an entry a request).
      request.prefixPrediction = new Prediction(
        indexes,
        chosen.id,
        index,
        stamps,
        clock,
        index.begin(options.now()),
        next !== undefined && index.pushedOut(next),
        uncached,
      );
      if (uncached > 0) addPending(chosen.id, uncached);
      request.predictedPrefixBlocks = stamps.length;
      index.insert(request.prefixHashes);
    },
    forget(backendId: string): void {
      indexes.delete(backendId);
      pendingChars.delete(backendId);
    },
    absorb(backendId: string, hashes: readonly number[], pending: number): void {
      // Another gateway's request brings these blocks there: the replica will hold them as if
      // this router had sent it (its feedback corrects the guess like any other).
      if (hashes.length > 0) indexOf(backendId).insert(hashes);
      if (pending > 0) addPending(backendId, pending);
    },
    absorbedPrefilled(backendId: string, pending: number): void {
      if (pending > 0) addPending(backendId, -pending);
    },
    prefilled(request: RequestFeatures, backendId: string): void {
      const prediction = ownPrediction(request);
      if (prediction !== undefined && prediction.backendId === backendId) letGo(prediction);
    },
    learn(request: RequestFeatures, backendId: string, report: CacheReport): void {
      const prediction = ownPrediction(request);
      if (prediction === undefined || prediction.backendId !== backendId) return;
      // The answer has ended: whatever it still counted as prefill there goes with it.
      letGo(prediction);
      request.prefixPrediction = undefined;
      const index = prediction.index;
      index.end(prediction.clock);
      // The backend left (or came back under a new index) since: its report is of no use.
      if (indexes.get(backendId) !== index) return;
      const { reported, reusable } = reportedBlocks(request, report, blockChars);
      const predicted = Math.min(prediction.stamps.length, reusable);
      // A block missing that a request still in flight then was bringing says nothing of evictions.
      if (reported < predicted && prediction.stamps[reported]! <= prediction.settled) {
        index.dropThrough(prediction.stamps[reported]!, prediction.clock);
      } else if (reported > predicted && prediction.nextPushedOut) {
        index.grow(reported - predicted);
      } else if (predicted > 0 && reported >= predicted) {
        // The replica held all it was expected to: evidence of room, not just of no eviction.
        index.recover();
      }
      // Held more than predicted otherwise: routed there by another gateway process, or before a
      // restart; the request's own insert has learned those blocks already.
    },
  };
}

/** The seam between the router and its strategies: what a strategy sees and what it returns. */
import type { ScrapedLoad } from "../../backend/mod.ts";
import type { StrategyName } from "./names.ts";
import type { PickExplanation, PickNote } from "./pick_note.ts";

/** What the router knows of one candidate backend when it picks. */
export interface BackendView {
  /** Stable id of the replica (unique within a model). */
  id: string;
  /** Base URL, e.g. `http://127.0.0.1:5901`. */
  url: string;
  /** Requests this gateway has in flight on it. */
  inFlight: number;
  /** Decayed EWMA of time to first token, in ms; undefined before the first sample. */
  ewmaTtftMs: number | undefined;
  /** The last scrape of its `/metrics`; undefined before the first one. */
  load: ScrapedLoad | undefined;
}

/** What the router knows of the request it routes; computed once per request on the hot path. */
export interface RequestFeatures {
  /** The `model` field. */
  model: string;
  /** The session header's value, if any. */
  sessionId: string | undefined;
  /**
   * Chained hashes of the prompt's leading fixed-size text blocks: hash i covers blocks 0..i,
   * so two prompts share hash i exactly when they share their first i+1 blocks.
   */
  prefixHashes: readonly number[];
  /** Length of the prompt text in characters. */
  promptChars: number;
  /**
   * The prompt's text as the prefix hashes see it (each message's role, a separator, its text
   * and another separator). Computed only when a configured strategy reads it (`needsPromptText`):
   * the text-keyed peers, `sglang_cache_aware` and `llmd_default`.
   */
  promptText?: string;
  /** The replica a durable session was served by last (kept in KV, so it survives restarts). */
  homeBackend?: string;
  /** KV tokens the request is expected to hold (prompt plus output), set by admission control. */
  kvTokens?: number;
  /**
   * Set by a strategy that estimates replicas' caches, when told its choice: how many leading
   * prefix blocks it expected the chosen replica to hold. The gateway compares it with what the
   * replica reports (`x-turnpike-cached-estimate`, `bench routing`'s estimate error).
   */
  predictedPrefixBlocks?: number;
  /**
   * What the strategy that set {@linkcode predictedPrefixBlocks} keeps from the choice until the
   * replica's report (`learn`); opaque to everything else.
   */
  prefixPrediction?: unknown;
  /**
   * The id under which this gateway process shared the request's placement with the others
   * (`proxy.share_placements`), until its prefill there is done; opaque to the strategies.
   */
  sharedPlacement?: number | undefined;
}

/** What a replica reported of one answered request: its `usage`, for strategies that learn from it. */
export interface CacheReport {
  /** `usage.prompt_tokens`. */
  promptTokens: number;
  /** `usage.prompt_tokens_details.cached_tokens`: prompt tokens the replica found in its prefix cache. */
  cachedTokens: number;
}

/** Settings every strategy may read. */
export interface StrategyOptions {
  /** A sticky or prefix-matched replica keeps traffic while its load is within this factor of the mean (plus one). */
  loadBound: number;
  /** Characters per prefix block. */
  prefixBlockChars: number;
  /** Prefix blocks a replica's cache holds, for the LRU estimate of its contents. */
  prefixCacheBlocks: number;
  /** Clock in ms; injectable for tests. */
  now: () => number;
}

/**
 * One routing policy. `score` rates every candidate in [0, 1] (higher is better); the router
 * sums weighted scores and takes the best, breaking ties deterministically.
 */
export interface Strategy {
  /** The config name it is chosen by. */
  readonly name: StrategyName;
  /** Scores `candidates` (all healthy) for `request`; returns one number per candidate, in order. */
  score(request: RequestFeatures, candidates: readonly BackendView[]): number[];
  /**
   * Why candidate `chosen` (an index into its last `score` call's candidates) was a good pick;
   * undefined when this strategy preferred it for load alone.
   */
  explain?(chosen: number): PickExplanation | undefined;
  /** Told which backend the router chose, so it can learn (affinity table, prefix index). */
  observe?(request: RequestFeatures, chosen: BackendView): void;
  /** Told that a backend left (retired, expired), so it can drop what it knew of it. */
  forget?(backendId: string): void;
  /**
   * Told, after the answer and off the hot path, what backend `backendId` reported of the
   * request's cached prefix, so an estimate of its cache can be corrected.
   */
  learn?(request: RequestFeatures, backendId: string, report: CacheReport): void;
  /**
   * Told that the request it chose `backendId` for is past its prefill there (its first token
   * came) or has ended (answered, failed or cancelled), so prefill work it counted there can be
   * let go; told at least once per chosen backend, perhaps twice.
   */
  prefilled?(request: RequestFeatures, backendId: string): void;
  /**
   * Told that another gateway process sent a prompt with the prefix block hashes `hashes` to
   * `backendId` (a placement it shared through KV), so an estimate of that backend's cache can
   * hold those blocks too, and that it expected `pendingChars` of it uncached there: prefill queued
   * at that backend until {@linkcode absorbedPrefilled} says it is done; off the hot path.
   */
  absorb?(backendId: string, hashes: readonly number[], pendingChars: number): void;
  /** Told that `pendingChars` of another process's prefill on `backendId` ({@linkcode absorb}) are done. */
  absorbedPrefilled?(backendId: string, pendingChars: number): void;
}

/** Builds a strategy from the shared options. */
export type StrategyFactory = (options: StrategyOptions) => Strategy;

/** The router's combined policy: one or several weighted strategies behind one call. */
export interface Picker {
  /** Its strategy's label (`proxy.strategy`'s name, or weighted names sorted and joined by `+`). */
  readonly label?: string;
  /** The best candidate for `request`, or undefined when there is none; fills `note` in when given. */
  pick(
    request: RequestFeatures,
    candidates: readonly BackendView[],
    note?: PickNote,
  ): BackendView | undefined;
  /** Drops what every strategy knew of a backend. */
  forget(backendId: string): void;
  /** Passes a backend's report on a request it answered to every strategy that learns. */
  learn?(request: RequestFeatures, backendId: string, report: CacheReport): void;
  /** Tells every strategy that the request chosen for `backendId` is past its prefill or has ended there. */
  prefilled?(request: RequestFeatures, backendId: string): void;
  /** Tells every strategy of another gateway process's placement of a prompt on `backendId`. */
  absorb?(backendId: string, hashes: readonly number[], pendingChars: number): void;
  /** Tells every strategy that another process's prefill on `backendId` is done. */
  absorbedPrefilled?(backendId: string, pendingChars: number): void;
}

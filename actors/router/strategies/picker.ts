/** The weighted combiner: one or several strategies behind one `pick`, with deterministic tie-breaks. */
import type { ProxyConfig } from "../../../config/mod.ts";
import type { StrategyName, StrategySpec } from "./names.ts";
import { strategyFactory } from "./registry.ts";
import type {
  BackendView,
  CacheReport,
  Picker,
  RequestFeatures,
  Strategy,
  StrategyOptions,
} from "./types.ts";
import type { PickNote } from "./pick_note.ts";
import { MIN_PREFIX_SHARE } from "./prefix_aware.ts";

/** Totals closer than this are a tie. */
const TIE_EPSILON = 1e-9;

/** Approximate characters per token, for turning `prefix_cache_tokens` into blocks of characters. */
export const CHARS_PER_TOKEN = 4;

/**
 * The {@linkcode StrategyOptions} a `proxy:` config section implies: its load bound, block size,
 * and the prefix cache size converted from tokens to blocks of characters.
 */
export function strategyOptions(
  proxy: Pick<ProxyConfig, "load_bound" | "prefix_block_chars" | "prefix_cache_tokens">,
  overrides: Partial<StrategyOptions> = {},
): StrategyOptions {
  return {
    loadBound: proxy.load_bound,
    prefixBlockChars: proxy.prefix_block_chars,
    prefixCacheBlocks: Math.max(
      1,
      Math.ceil(proxy.prefix_cache_tokens * CHARS_PER_TOKEN / proxy.prefix_block_chars),
    ),
    now: Date.now,
    ...overrides,
  };
}

/** The label of a strategy spec: its name, or its weighted names sorted and joined by `+`. */
export function strategyLabel(strategy: StrategySpec): string {
  return typeof strategy === "string" ? strategy : Object.keys(strategy).sort().join("+");
}

/**
 * Fills `note` in for a pick of candidate `index` among `n` (after the strategies observed it):
 * the only candidate; a prefix hit when a strategy estimated the chosen replica holds at least
 * {@linkcode MIN_PREFIX_SHARE} of the prompt's blocks; else the first strategy's explanation;
 * else balanced.
 */
function explainPick(
  note: PickNote,
  request: RequestFeatures,
  parts: readonly { strategy: Strategy }[],
  index: number,
  n: number,
): void {
  delete note.prefixShare;
  const blocks = request.prefixHashes.length;
  if (request.predictedPrefixBlocks !== undefined && blocks > 0) {
    note.prefixShare = request.predictedPrefixBlocks / blocks;
  }
  if (n === 1) {
    note.reason = "only_candidate";
    return;
  }
  if (note.prefixShare !== undefined && note.prefixShare >= MIN_PREFIX_SHARE) {
    note.reason = "prefix_hit";
    return;
  }
  note.reason = "balanced";
  for (const { strategy } of parts) {
    const why = strategy.explain?.(index);
    if (why === undefined) continue;
    note.reason = why.reason;
    return;
  }
}

/**
 * Builds the router's picker for `strategy`: each candidate's total is the weighted sum of the
 * strategies' scores (weights normalised to sum 1) and the best total wins. Ties go to the first
 * tied candidate at or after a cursor that advances with every pick, so equal candidates take
 * turns and the same sequence of calls always gives the same choices. Every strategy is then told
 * the choice.
 *
 * @example
 * ```ts
 * const picker = createPicker({ prefix_aware: 2, least_load: 1 }, strategyOptions(config.proxy));
 * const backend = picker.pick(requestFeatures(body, { sessionId, blockChars: 2048 }), healthy);
 * ```
 */
export function createPicker(strategy: StrategySpec, options: StrategyOptions): Picker {
  const parts: { strategy: Strategy; weight: number }[] = [];
  if (typeof strategy === "string") {
    parts.push({ strategy: strategyFactory(strategy)(options), weight: 1 });
  } else {
    const entries = Object.entries(strategy) as [StrategyName, number | undefined][];
    let sum = 0;
    for (const [, w] of entries) sum += w ?? 0;
    for (const [name, w] of entries) {
      if (w === undefined || w <= 0) continue;
      parts.push({ strategy: strategyFactory(name)(options), weight: w / sum });
    }
    if (parts.length === 0) {
      throw new Error("Strategy weights must include at least one positive weight");
    }
  }
  let cursor = 0;
  // The candidates' totals, reused from pick to pick so the hot path allocates none.
  let totals = new Float64Array(16);
  const label = strategyLabel(strategy);
  return {
    label,
    pick(
      request: RequestFeatures,
      candidates: readonly BackendView[],
      note?: PickNote,
    ): BackendView | undefined {
      const n = candidates.length;
      if (n === 0) return undefined;
      let chosen: BackendView;
      let pickIndex = 0;
      if (n === 1) {
        chosen = candidates[0]!;
      } else {
        if (totals.length < n) totals = new Float64Array(n);
        totals.fill(0, 0, n);
        for (const { strategy, weight } of parts) {
          const scores = strategy.score(request, candidates);
          for (let i = 0; i < n; i++) totals[i]! += weight * (scores[i] ?? 0);
        }
        let best = -Infinity;
        for (let i = 0; i < n; i++) if (totals[i]! > best) best = totals[i]!;
        for (let k = 0; k < n; k++) {
          const i = (cursor + k) % n;
          if (totals[i]! >= best - TIE_EPSILON) {
            pickIndex = i;
            break;
          }
        }
        chosen = candidates[pickIndex]!;
      }
      cursor = (cursor + 1) % 1_000_000_007;
      for (const { strategy } of parts) strategy.observe?.(request, chosen);
      if (note !== undefined) {
        note.strategy = label;
        explainPick(note, request, parts, pickIndex, n);
      }
      return chosen;
    },
    forget(backendId: string): void {
      for (const { strategy } of parts) strategy.forget?.(backendId);
    },
    learn(request: RequestFeatures, backendId: string, report: CacheReport): void {
      for (const { strategy } of parts) strategy.learn?.(request, backendId, report);
    },
    prefilled(request: RequestFeatures, backendId: string): void {
      for (const { strategy } of parts) strategy.prefilled?.(request, backendId);
    },
    absorb(backendId: string, hashes: readonly number[], pendingChars: number): void {
      for (const { strategy } of parts) strategy.absorb?.(backendId, hashes, pendingChars);
    },
    absorbedPrefilled(backendId: string, pendingChars: number): void {
      for (const { strategy } of parts) strategy.absorbedPrefilled?.(backendId, pendingChars);
    },
  };
}

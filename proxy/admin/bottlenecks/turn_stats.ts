/** Figures over a set of turns that the bottleneck rules decide on: component shares and percentiles, the replicas' state, routing. */
import { percentiles, type RequestRecord } from "../../records.ts";
import { type ComponentShare, TURN_COMPONENTS, type TurnComponent } from "../api_types.ts";
import { turnBreakdown, wallMs } from "./breakdown.ts";

/** The figures of one model's turns (or every model's, `model` null). */
export interface TurnStats {
  model: string | null;
  /** Turns a replica answered (their time is split into components). */
  turns: number;
  /** Requests in all, refusals and failures included. */
  requests: number;
  /** Summed wall time of the answered turns, in ms. */
  wallMs: number;
  /** Each component's share of `wallMs`, 0 to 1. */
  shares: Record<TurnComponent, number>;
  /** Per-turn p50 and p95 of each component, where measured. */
  p50Ms: Partial<Record<TurnComponent, number>>;
  p95Ms: Partial<Record<TurnComponent, number>>;
  /** Turns each component was measured on. */
  measured: Record<TurnComponent, number>;
  /** The replicas as scraped when the turns were routed: p95 waiting, p50 running (the batch), the fullest KV cache. */
  waitingP95: number | undefined;
  runningP50: number | undefined;
  kvUsageMax: number | undefined;
  /** Turns routed while the replica had preempted requests since its scrape before. */
  turnsWithPreemptions: number;
  /**
   * The replicas' prefix-cache hit rate (0 to 1): cached over prompt tokens of the turns whose usage
   * reported cached tokens, else the mean of the scraped rates; and the router's estimate of the cached share.
   */
  replicaPrefixHitRate: number | undefined;
  routerPrefixShare: number | undefined;
  /** Share of requests that carried a session header. */
  sessionShare: number;
  /** Share of requests answered with a 5xx. */
  errorRate: number;
  /** Mean completion tokens of the answered turns. */
  completionTokensMean: number | undefined;
  /** The strategy that routed most turns. */
  strategy: string | undefined;
}

function mean(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

function mostCommon(values: string[]): string | undefined {
  const counts = new Map<string, number>();
  let best: string | undefined;
  let bestCount = 0;
  for (const v of values) {
    const n = (counts.get(v) ?? 0) + 1;
    counts.set(v, n);
    if (n > bestCount) [best, bestCount] = [v, n];
  }
  return best;
}

function zeroes(): Record<TurnComponent, number> {
  return Object.fromEntries(TURN_COMPONENTS.map((c) => [c, 0])) as Record<TurnComponent, number>;
}

/** The figures of `records`, labelled `model` (null for a mix of models). */
export function turnStats(records: readonly RequestRecord[], model: string | null): TurnStats {
  const totals = zeroes();
  const measured = zeroes();
  const samples = new Map<TurnComponent, number[]>(TURN_COMPONENTS.map((c) => [c, []]));
  const waiting: number[] = [];
  const running: number[] = [];
  const kv: number[] = [];
  const replicaHits: number[] = [];
  const routerShares: number[] = [];
  const completions: number[] = [];
  const strategies: string[] = [];
  let turns = 0;
  let wall = 0;
  let preempted = 0;
  let sessions = 0;
  let errors = 0;
  let cachedTokens = 0;
  let cachedPromptTokens = 0;
  for (const r of records) {
    if (r.sessionId !== undefined) sessions++;
    if (r.status >= 500) errors++;
    if (r.backendId === undefined || r.upstreamMs === undefined || r.status >= 400) continue;
    turns++;
    const parts = turnBreakdown(r);
    wall += wallMs(parts);
    for (const c of TURN_COMPONENTS) {
      const ms = parts[c];
      if (ms === undefined) continue;
      totals[c] += ms;
      measured[c]++;
      samples.get(c)!.push(ms);
    }
    if (r.replicaWaiting !== undefined) waiting.push(r.replicaWaiting);
    if (r.replicaRunning !== undefined) running.push(r.replicaRunning);
    if (r.replicaKvUsage !== undefined) kv.push(r.replicaKvUsage);
    if ((r.replicaPreemptions ?? 0) > 0) preempted++;
    if (r.replicaPrefixHitRate !== undefined) replicaHits.push(r.replicaPrefixHitRate);
    if (r.cachedTokens !== undefined && r.promptTokens !== undefined) {
      cachedTokens += r.cachedTokens;
      cachedPromptTokens += r.promptTokens;
    }
    if (r.routerPrefixShare !== undefined) routerShares.push(r.routerPrefixShare);
    if (r.completionTokens !== undefined) completions.push(r.completionTokens);
    if (r.routeStrategy !== undefined) strategies.push(r.routeStrategy);
  }
  const shares = zeroes();
  const p50Ms: TurnStats["p50Ms"] = {};
  const p95Ms: TurnStats["p95Ms"] = {};
  for (const c of TURN_COMPONENTS) {
    shares[c] = wall > 0 ? totals[c] / wall : 0;
    const p = percentiles(samples.get(c)!);
    if (p.p50 !== undefined) p50Ms[c] = p.p50;
    if (p.p95 !== undefined) p95Ms[c] = p.p95;
  }
  return {
    model,
    turns,
    requests: records.length,
    wallMs: wall,
    shares,
    p50Ms,
    p95Ms,
    measured,
    waitingP95: percentiles(waiting).p95,
    runningP50: percentiles(running).p50,
    kvUsageMax: kv.length === 0 ? undefined : Math.max(...kv),
    turnsWithPreemptions: preempted,
    replicaPrefixHitRate: cachedPromptTokens > 0
      ? cachedTokens / cachedPromptTokens
      : mean(replicaHits),
    routerPrefixShare: mean(routerShares),
    sessionShare: records.length === 0 ? 0 : sessions / records.length,
    errorRate: records.length === 0 ? 0 : errors / records.length,
    completionTokensMean: mean(completions),
    strategy: mostCommon(strategies),
  };
}

/** Every component of `stats`, the largest share first, as `GET /api/bottlenecks` lists them. */
export function componentShares(stats: TurnStats): ComponentShare[] {
  const round = (ms: number | undefined) => ms === undefined ? null : Math.round(ms * 100) / 100;
  return TURN_COMPONENTS.map((component) => ({
    component,
    share: Math.round(stats.shares[component] * 10_000) / 10_000,
    total_ms: Math.round(stats.shares[component] * stats.wallMs * 100) / 100,
    p50_ms: round(stats.p50Ms[component]),
    p95_ms: round(stats.p95Ms[component]),
    turns: stats.measured[component],
  })).sort((a, b) => b.share - a.share);
}

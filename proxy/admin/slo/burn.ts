/** Error-budget burn of a model's objectives over a set of request samples: pure functions. */
import { quantileSorted } from "d3-array";
import type { ModelSloConfig } from "../../../config/slo_schema.ts";
import type { RequestRecord } from "../../records.ts";
import type { SloObjective } from "../api_types.ts";

/** What one finished request contributes to the objectives. */
export interface SloSample {
  /** When it started, in ms since the epoch. */
  atMs: number;
  /** Time to first token of a stream, in ms. */
  ttftMs?: number;
  /** Mean time per output token after the first, in ms (streams with 2 tokens or more). */
  itlMs?: number;
  /** Whether it failed with a 5xx. */
  error: boolean;
  /** The side of a routing canary that picked its backend, if one ran. */
  arm?: "canary" | "incumbent";
}

/** The sample of a finished record; undefined for one the objectives do not cover (no model, a client error or cancel). */
export function sloSample(record: RequestRecord): SloSample | undefined {
  if (record.model === "" || (record.status >= 400 && record.status < 500)) return undefined;
  const sample: SloSample = { atMs: record.startedAtMs, error: record.status >= 500 };
  const ttft = record.upstreamTtftMs;
  if (ttft !== undefined) {
    sample.ttftMs = ttft;
    const tokens = record.completionTokens ?? 0;
    if (record.upstreamMs !== undefined && tokens > 1) {
      sample.itlMs = Math.max(0, record.upstreamMs - ttft) / (tokens - 1);
    }
  }
  if (record.routeArm !== undefined) sample.arm = record.routeArm;
  return sample;
}

/** One objective's figures over some samples. */
export interface ObjectiveBurn {
  objective: SloObjective;
  target: number;
  /** The p95 (ms) or the error rate; null without samples. */
  value: number | null;
  /** Bad share over the allowed share; null without samples. */
  burn: number | null;
  samples: number;
}

/** The share of a p95 objective's samples allowed over its target. */
const P95_BUDGET = 0.05;

function latencyBurn(
  objective: SloObjective,
  target: number,
  values: number[],
): ObjectiveBurn {
  if (values.length === 0) return { objective, target, value: null, burn: null, samples: 0 };
  let bad = 0;
  for (const v of values) if (v > target) bad++;
  const sorted = values.toSorted((a, b) => a - b);
  return {
    objective,
    target,
    value: quantileSorted(sorted, 0.95) ?? null,
    burn: bad / values.length / P95_BUDGET,
    samples: values.length,
  };
}

/**
 * The burn of each objective `slo` sets over `samples`: for a p95 latency, the share of samples
 * above the target over the 5% a p95 allows; for the error rate, the share of failures over the
 * target. Above 1 the objective is violated.
 */
export function objectiveBurns(
  samples: readonly SloSample[],
  slo: ModelSloConfig,
): ObjectiveBurn[] {
  const out: ObjectiveBurn[] = [];
  if (slo.ttft_p95_ms !== undefined) {
    const values: number[] = [];
    for (const s of samples) if (s.ttftMs !== undefined) values.push(s.ttftMs);
    out.push(latencyBurn("ttft_p95", slo.ttft_p95_ms, values));
  }
  if (slo.itl_p95_ms !== undefined) {
    const values: number[] = [];
    for (const s of samples) if (s.itlMs !== undefined) values.push(s.itlMs);
    out.push(latencyBurn("itl_p95", slo.itl_p95_ms, values));
  }
  if (slo.error_rate !== undefined) {
    let errors = 0;
    for (const s of samples) if (s.error) errors++;
    const n = samples.length;
    out.push({
      objective: "error_rate",
      target: slo.error_rate,
      value: n === 0 ? null : errors / n,
      burn: n === 0 ? null : errors / n / slo.error_rate,
      samples: n,
    });
  }
  return out;
}

/** The largest burn of `burns`, null when none has samples. */
export function worstBurn(burns: readonly ObjectiveBurn[]): number | null {
  let worst: number | null = null;
  for (const b of burns) if (b.burn !== null && (worst === null || b.burn > worst)) worst = b.burn;
  return worst;
}

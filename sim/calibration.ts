/** Measures the engine against the H100 calibration table on a virtual clock. */
import { VirtualClock } from "./clock.ts";
import { Engine, type EngineOptions } from "./engine.ts";
import { BLOCK_TOKENS } from "./kv_cache.ts";

/** One row of the comparison. */
export interface CalibrationRow {
  /** What is measured, e.g. "prefill 2048". */
  name: string;
  /** The calibration value in ms. */
  referenceMs: number;
  /** What the simulator gives, in ms. */
  simulatedMs: number;
  /** (simulated - reference) / reference. */
  error: number;
}

/** Measured prefill times (calibration.md): prompt tokens -> ms. */
export const PREFILL_TABLE: readonly (readonly [number, number])[] = [
  [512, 19.9],
  [2048, 62.7],
  [8192, 265.7],
  [16384, 596.5],
  [32768, 1418.2],
];

/** Measured prefill on a cached prefix: [cached, new, ms]. */
export const CACHED_TABLE: readonly (readonly [number, number, number])[] = [
  [8192, 512, 35.4],
  [16384, 512, 49.6],
  [16384, 2048, 138.1],
  [32768, 512, 78.4],
];

/** Decode cases checked against the bandwidth formula: [batch, context tokens per sequence]. */
export const DECODE_CASES: readonly (readonly [number, number])[] = [[1, 512], [1, 16384], [
  32,
  512,
], [32, 4096]];

/** calibration.md's decode floor: (16.1e9 + context x 131072) / 3.0e12 s. */
export function referenceDecodeMs(totalContext: number): number {
  return (16.1e9 + totalContext * 131_072) / 3.0e12 * 1000;
}

function hashes(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

/**
 * Time to first token of a prompt of `newTokens` on top of `cachedTokens` already cached, alone
 * on an idle replica. `options` may set the step token budget (the calibration ran one pass).
 */
export function measureTtftMs(
  cachedTokens: number,
  newTokens: number,
  options: EngineOptions = {},
): number {
  const clock = new VirtualClock();
  const engine = new Engine(clock, options);
  const total = cachedTokens + newTokens;
  const blockHashes = hashes(1, Math.floor(total / BLOCK_TOKENS));
  if (cachedTokens > 0) {
    engine.submit({
      id: "warm",
      promptTokens: cachedTokens,
      blockHashes: blockHashes.slice(0, cachedTokens / BLOCK_TOKENS),
      maxTokens: 1,
    });
    clock.runUntilIdle();
  }
  const start = clock.now() + 1000;
  clock.advanceTo(start);
  let first = Number.NaN;
  engine.submit({ id: "probe", promptTokens: total, blockHashes, maxTokens: 1 }, {
    onToken: (_, atMs) => {
      first = atMs;
    },
  });
  clock.runUntilIdle();
  engine.close();
  return first - start;
}

/** Mean decode step in ms for `batch` sequences of `context` tokens each, in steady decode. */
export function measureDecodeStepMs(
  batch: number,
  context: number,
  options: EngineOptions = {},
): number {
  const clock = new VirtualClock();
  const engine = new Engine(clock, {
    maxNumBatchedTokens: Math.max(8192, batch * context),
    ...options,
  });
  const tokens: number[][] = Array.from({ length: batch }, () => []);
  for (let b = 0; b < batch; b++) {
    engine.submit({
      id: `s${b}`,
      promptTokens: context,
      blockHashes: hashes(b * 1000 + 1, 0),
      maxTokens: 17,
    }, {
      onToken: (_, atMs) => tokens[b]!.push(atMs),
    });
  }
  clock.runUntilIdle();
  engine.close();
  const t = tokens[0]!;
  return (t[16]! - t[1]!) / 15;
}

function row(name: string, referenceMs: number, simulatedMs: number): CalibrationRow {
  return { name, referenceMs, simulatedMs, error: (simulatedMs - referenceMs) / referenceMs };
}

/** Every calibration row: prefill, prefill on a cached prefix, decode at batch 1 and 32. */
export function calibrationRows(): CalibrationRow[] {
  const rows: CalibrationRow[] = [];
  for (const [n, ms] of PREFILL_TABLE) {
    rows.push(
      row(`prefill ${n}`, ms, measureTtftMs(0, n, { maxNumBatchedTokens: Math.max(8192, n) })),
    );
  }
  for (const [cached, n, ms] of CACHED_TABLE) {
    rows.push(row(`cached ${cached} + new ${n}`, ms, measureTtftMs(cached, n)));
  }
  for (const [batch, context] of DECODE_CASES) {
    // Tokens 1..16 sit at contexts context+1 .. context+16; the reference takes the midpoint.
    const reference = referenceDecodeMs(batch * (context + 8.5));
    rows.push(
      row(`decode batch ${batch} ctx ${context}`, reference, measureDecodeStepMs(batch, context)),
    );
  }
  return rows;
}

/** TTFT of long prompts under the default chunked prefill (8,192 tokens a step), for reference. */
export function chunkedPrefillRows(): CalibrationRow[] {
  return PREFILL_TABLE.filter(([n]) => n > 8192).map(([n, ms]) =>
    row(`prefill ${n} chunked 8192`, ms, measureTtftMs(0, n))
  );
}

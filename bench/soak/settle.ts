/** The gateway's idle memory once it has settled: V8 frees start-up garbage some seconds after start, so one sample at start-up overstates what an idle gateway holds. */
import { rssBytes } from "./processes.ts";

/** When idle RSS counts as settled: how long it must hold still, and how still. */
export interface SettleOptions {
  /** Seconds the samples must stay within `tolerance` of each other. */
  windowS: number;
  /** The most relative spread (max / min - 1) over the window. */
  tolerance: number;
}

/** Defaults of {@linkcode SettleOptions}. */
export const SETTLE_DEFAULTS: SettleOptions = { windowS: 5, tolerance: 0.01 };

/** One idle reading. */
export interface IdleSample {
  /** Seconds since the gateway was first healthy. */
  atS: number;
  rssBytes: number;
}

/** The idle RSS a soak reports: right when the gateway is healthy, and after it settles. */
export interface IdleRss {
  /** The gateway's RSS the moment it reported its replicas healthy. */
  atHealthyBytes: number | undefined;
  /** The mean RSS over the first window that held still; undefined when none did in time. */
  settledBytes: number | undefined;
  /** Seconds after healthy at which the settled window ended (or the wait gave up). */
  settledAfterS: number;
}

/**
 * The end of the first window of `samples` (in time order) that spans `windowS` and whose spread
 * is within `tolerance`, with its mean; undefined when there is none.
 */
export function settledWindow(
  samples: readonly IdleSample[],
  options: SettleOptions = SETTLE_DEFAULTS,
): { atS: number; rssBytes: number } | undefined {
  let start = 0;
  for (let end = 0; end < samples.length; end++) {
    const last = samples[end]!;
    while (start < end && last.atS - samples[start + 1]!.atS >= options.windowS) start++;
    if (last.atS - samples[start]!.atS < options.windowS) continue;
    const window = samples.slice(start, end + 1).map((s) => s.rssBytes);
    const min = Math.min(...window);
    if (Math.max(...window) / min - 1 <= options.tolerance) {
      return { atS: last.atS, rssBytes: window.reduce((a, b) => a + b, 0) / window.length };
    }
  }
  return undefined;
}

/**
 * Samples process `pid`'s RSS every `sampleS` until it settles ({@linkcode settledWindow}) or
 * `maxS` pass; `maxS` 0 takes the start-up sample alone.
 */
export async function idleRss(
  pid: number,
  maxS: number,
  sampleS: number,
  options: SettleOptions = SETTLE_DEFAULTS,
): Promise<IdleRss> {
  const atHealthyBytes = rssBytes(pid);
  const samples: IdleSample[] = [];
  if (atHealthyBytes !== undefined) samples.push({ atS: 0, rssBytes: atHealthyBytes });
  const t0 = performance.now();
  let elapsedS = 0;
  while (maxS > 0 && elapsedS < maxS) {
    await new Promise((r) => setTimeout(r, sampleS * 1000));
    elapsedS = (performance.now() - t0) / 1000;
    const rss = rssBytes(pid);
    if (rss === undefined) break;
    samples.push({ atS: elapsedS, rssBytes: rss });
    const settled = settledWindow(samples, options);
    if (settled) {
      return { atHealthyBytes, settledBytes: settled.rssBytes, settledAfterS: settled.atS };
    }
  }
  return { atHealthyBytes, settledBytes: undefined, settledAfterS: elapsedS };
}

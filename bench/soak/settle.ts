/** The gateway's idle memory after a wait: V8's memory reducer frees start-up garbage some 30 s after start, so one sample at start-up overstates what an idle gateway holds. */
import { rssBytes } from "./processes.ts";

/** Seconds at the end of the wait whose samples make the settled figure. */
export const SETTLED_WINDOW_S = 5;

/** The most relative spread (max / min - 1) of that window for the memory to count as still. */
export const SETTLED_TOLERANCE = 0.01;

/** One idle reading. */
export interface IdleSample {
  /** Seconds since the gateway was first healthy. */
  atS: number;
  rssBytes: number;
}

/** The idle RSS a soak reports: right when the gateway is healthy, and after a wait. */
export interface IdleRss {
  /** The gateway's RSS the moment it reported its replicas healthy. */
  atHealthyBytes: number | undefined;
  /** The mean RSS over the wait's last {@linkcode SETTLED_WINDOW_S}; undefined without a wait. */
  settledBytes: number | undefined;
  /** Whether that window held within {@linkcode SETTLED_TOLERANCE}. */
  still: boolean;
  /** Seconds waited after healthy. */
  waitedS: number;
}

/** The mean and spread (max / min - 1) of the samples in the last `windowS` of `samples`. */
export function lastWindow(
  samples: readonly IdleSample[],
  windowS: number = SETTLED_WINDOW_S,
): { meanBytes: number; spread: number } | undefined {
  const end = samples.at(-1);
  if (end === undefined) return undefined;
  const rss = samples.filter((s) => s.atS >= end.atS - windowS).map((s) => s.rssBytes);
  return {
    meanBytes: rss.reduce((a, b) => a + b, 0) / rss.length,
    spread: Math.max(...rss) / Math.min(...rss) - 1,
  };
}

/**
 * Samples process `pid`'s RSS every `sampleS` for `waitS` seconds after it is healthy; `waitS`
 * 0 takes the start-up sample alone.
 */
export async function idleRss(pid: number, waitS: number, sampleS: number): Promise<IdleRss> {
  const atHealthyBytes = rssBytes(pid);
  const samples: IdleSample[] = [];
  const t0 = performance.now();
  let waitedS = 0;
  while (waitedS < waitS) {
    await new Promise((r) => setTimeout(r, Math.min(sampleS, waitS - waitedS) * 1000));
    waitedS = (performance.now() - t0) / 1000;
    const rss = rssBytes(pid);
    if (rss === undefined) break;
    samples.push({ atS: waitedS, rssBytes: rss });
  }
  const last = lastWindow(samples);
  return {
    atHealthyBytes,
    settledBytes: last?.meanBytes,
    still: last !== undefined && last.spread <= SETTLED_TOLERANCE,
    waitedS,
  };
}

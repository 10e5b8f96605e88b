/** The soak benchmark's figures and verdicts, computed from the streams and the gateway's samples. */
import { summarize, type Summary } from "../../sim/mod.ts";
import type { StreamSample } from "./streams.ts";

/** The soak targets, in their units. */
export const SOAK_TARGETS = {
  /** Failed streams through the gateway allowed. */
  errors: 0,
  /** Most resident memory of the gateway process at any sample, in MB. */
  maxRssMb: 300,
  /** Most growth of the mean RSS from the first to the last third of the run. */
  rssGrowth: 0.1,
} as const;

/** One reading of the gateway process during the run. */
export interface GatewaySample {
  /** Seconds from the start of the load. */
  atS: number;
  rssBytes: number;
  /** Its open file descriptors. */
  openFiles: number | undefined;
  /** Requests in flight over all its backends (`/api/backends`). */
  inFlight: number | undefined;
}

/** Percentiles in ms of the parts of a run that count. */
export interface LatencyFigures {
  p50: number;
  p99: number;
  count: number;
}

/** The soak's figures. */
export interface SoakFigures {
  streams: { gateway: number; direct: number };
  errors: { gateway: number; direct: number; examples: string[] };
  /**
   * Per stream through the gateway, the head's time at the client minus the upstream's part the
   * gateway reports in `server-timing`: what the gateway adds before the client sees its answer.
   */
  addedHeadMs: LatencyFigures;
  /** Time to the first token through the gateway and straight to a replica, at the same load. */
  ttftMs: { gateway: LatencyFigures; direct: LatencyFigures };
  /** Time to the response head straight to a replica (the client and loopback's own share). */
  directHeadMs: LatencyFigures;
  rss: {
    maxMb: number;
    firstThirdMb: number;
    lastThirdMb: number;
    /** lastThird / firstThird - 1. */
    growth: number;
  };
  maxOpenFiles: number | undefined;
  /** The most requests in flight the gateway reported (`/api/backends`) over the steady samples. */
  maxInFlight: number | undefined;
  /** Streams open on average over the steady window, as the client held them (both paths). */
  heldStreams: number;
}

/** The mean number of `samples` open over `[fromMs, toMs]`. */
export function meanOpen(samples: readonly StreamSample[], fromMs: number, toMs: number): number {
  let openMs = 0;
  for (const s of samples) {
    const start = Math.max(fromMs, s.startMs);
    const end = Math.min(toMs, s.endMs);
    if (end > start) openMs += end - start;
  }
  return toMs > fromMs ? openMs / (toMs - fromMs) : NaN;
}

function figures(s: Summary): LatencyFigures {
  return { p50: s.p50, p99: s.p99, count: s.count };
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

/**
 * The figures of a soak run. Latencies count streams started after `steadyFromS` (the ramp);
 * memory counts samples from `steadyFromS` to `steadyToS`, split in thirds by time.
 */
export function soakFigures(
  samples: readonly StreamSample[],
  gateway: readonly GatewaySample[],
  window: { steadyFromS: number; steadyToS: number },
): SoakFigures {
  const fromMs = window.steadyFromS * 1000;
  const steady = samples.filter((s) => s.startMs >= fromMs && s.error === undefined);
  const through = steady.filter((s) => !s.direct);
  const direct = steady.filter((s) => s.direct);
  const failed = samples.filter((s) => s.error !== undefined);
  const added = through.flatMap((s) => s.upstreamMs === undefined ? [] : [s.headMs - s.upstreamMs]);
  const inWindow = gateway.filter((g) => g.atS >= window.steadyFromS && g.atS <= window.steadyToS);
  const third = (window.steadyToS - window.steadyFromS) / 3;
  const firstThird = inWindow.filter((g) => g.atS < window.steadyFromS + third);
  const lastThird = inWindow.filter((g) => g.atS >= window.steadyToS - third);
  const mb = (g: readonly GatewaySample[]) => mean(g.map((x) => x.rssBytes)) / 1e6;
  const firstMb = mb(firstThird);
  const lastMb = mb(lastThird);
  const files = gateway.flatMap((g) => g.openFiles === undefined ? [] : [g.openFiles]);
  const inFlight = inWindow.flatMap((g) => g.inFlight === undefined ? [] : [g.inFlight]);
  return {
    streams: {
      gateway: samples.filter((s) => !s.direct).length,
      direct: samples.filter((s) => s.direct).length,
    },
    errors: {
      gateway: failed.filter((s) => !s.direct).length,
      direct: failed.filter((s) => s.direct).length,
      examples: [...new Set(failed.map((s) => `${s.direct ? "direct" : "gateway"}: ${s.error}`))]
        .slice(0, 5),
    },
    addedHeadMs: figures(summarize(added)),
    ttftMs: {
      gateway: figures(summarize(through.map((s) => s.ttftMs))),
      direct: figures(summarize(direct.map((s) => s.ttftMs))),
    },
    directHeadMs: figures(summarize(direct.map((s) => s.headMs))),
    rss: {
      maxMb: Math.max(...gateway.map((g) => g.rssBytes)) / 1e6,
      firstThirdMb: firstMb,
      lastThirdMb: lastMb,
      growth: lastMb / firstMb - 1,
    },
    maxOpenFiles: files.length === 0 ? undefined : Math.max(...files),
    maxInFlight: inFlight.length === 0 ? undefined : Math.max(...inFlight),
    heldStreams: meanOpen(samples, fromMs, window.steadyToS * 1000),
  };
}

/** The soak's verdicts against {@linkcode SOAK_TARGETS}; undefined where nothing was measured. */
export function soakVerdicts(f: SoakFigures) {
  const measured = (n: number) => !Number.isNaN(n) && Number.isFinite(n);
  return {
    errors: f.errors.gateway <= SOAK_TARGETS.errors,
    rss: measured(f.rss.maxMb) ? f.rss.maxMb < SOAK_TARGETS.maxRssMb : undefined,
    rssFlat: measured(f.rss.growth) ? f.rss.growth <= SOAK_TARGETS.rssGrowth : undefined,
  };
}

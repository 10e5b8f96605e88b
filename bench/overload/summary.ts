/** The overload benchmark's figures per load level and its verdicts against issue #12's target. */
import { summarize } from "../../sim/mod.ts";
import { GAVE_UP, type RequestSample } from "./load.ts";

/** The targets, in their units. */
export const OVERLOAD_TARGETS = {
  /** Least goodput at and above capacity, as a share of the capacity. */
  goodputShare: 0.9,
  /** Most p99 TTFT of admitted requests, as a multiple of the p99 TTFT at the reference load. */
  ttftP99Factor: 2,
  /** The offered load (a multiple of capacity) whose p99 TTFT is the reference. */
  referenceLoad: 0.8,
} as const;

/** The window of a run that counts: requests sent, and successes ended, within it. */
export interface Window {
  fromS: number;
  toS: number;
}

/** What the gateway's `/api/backends` showed of circuits over a run. */
export interface CircuitWatch {
  /** Times a backend was seen going from closed to open or half-open. */
  opened: number;
  /** Requests the backends counted as failed during the run. */
  failed: number;
  /** Polls of `/api/backends` made. */
  polls: number;
}

/** The figures of one run (the capacity run or one load level). */
export interface RunFigures {
  /** Requests sent within the window. */
  sent: number;
  /** Successful requests per second that ended within the window. */
  goodputPerS: number;
  /** Output tokens per second of those. */
  tokensPerS: number;
  /** TTFT of admitted (200) requests sent within the window. */
  ttftMs: { p50: number; p99: number; count: number };
  /** 429 and 503 refusals. */
  shed: number;
  /** Refusals that carried Retry-After and an OpenAI-shaped body. */
  shedClear: number;
  /** Time from send to a refusal's head. */
  rejectMs: { p50: number; p99: number; max: number };
  /** 504s. */
  timeouts: number;
  /** Anything else that failed: other statuses, broken streams, connection errors. */
  otherErrors: number;
  /** Requests the client gave up on at the end of the grace (still unanswered or streaming). */
  abandoned: number;
  /** Up to five distinct failure messages. */
  examples: string[];
}

/** One offered load level with its figures. */
export interface LevelFigures extends RunFigures {
  /** Offered load as a multiple of the measured capacity. */
  load: number;
  /** Offered requests per second. */
  offeredPerS: number;
  circuits: CircuitWatch;
}

/** Whether a sample is a load shedder's refusal. */
function isShed(s: RequestSample): boolean {
  return s.status === 429 || s.status === 503;
}

/** The figures of `samples` within `window`. */
export function runFigures(samples: readonly RequestSample[], window: Window): RunFigures {
  const fromMs = window.fromS * 1000;
  const toMs = window.toS * 1000;
  const seconds = window.toS - window.fromS;
  const sent = samples.filter((s) => s.sentMs >= fromMs && s.sentMs < toMs);
  const done = samples.filter((s) =>
    s.status === 200 && s.error === undefined && s.endMs >= fromMs && s.endMs < toMs
  );
  const ttft = summarize(
    sent.flatMap((s) => s.status === 200 && s.ttftMs !== undefined ? [s.ttftMs] : []),
  );
  const shed = sent.filter(isShed);
  const reject = summarize(shed.map((s) => s.headMs));
  const failed = sent.filter((s) => s.error !== undefined && !isShed(s));
  const timeouts = failed.filter((s) => s.status === 504);
  const abandoned = failed.filter((s) => s.error === GAVE_UP);
  return {
    sent: sent.length,
    goodputPerS: done.length / seconds,
    tokensPerS: done.reduce((sum, s) => sum + s.outputTokens, 0) / seconds,
    ttftMs: { p50: ttft.p50, p99: ttft.p99, count: ttft.count },
    shed: shed.length,
    shedClear: shed.filter((s) => s.retryAfter && s.openaiError).length,
    rejectMs: { p50: reject.p50, p99: reject.p99, max: reject.max },
    timeouts: timeouts.length,
    otherErrors: failed.length - timeouts.length - abandoned.length,
    abandoned: abandoned.length,
    examples: [...new Set(failed.concat(shed).map((s) => s.error!.slice(0, 160)))].slice(0, 5),
  };
}

/** The verdicts of one level. */
export interface LevelVerdict {
  load: number;
  /** Goodput within 10% of capacity; undefined below capacity, where it is the offered load. */
  goodput: boolean | undefined;
  /** p99 TTFT of admitted requests within 2x the reference's. */
  ttft: boolean | undefined;
  /** Every request not served got a clear refusal (429/503, Retry-After, OpenAI body) as fast as a first token at the reference load. */
  rejections: boolean | undefined;
  /** No circuit opened. */
  circuits: boolean;
}

/** The level whose p99 TTFT is the reference: the one at 0.8x, else the highest below capacity. */
export function referenceLevel(levels: readonly LevelFigures[]): LevelFigures | undefined {
  const exact = levels.find((l) => Math.abs(l.load - OVERLOAD_TARGETS.referenceLoad) < 1e-9);
  if (exact) return exact;
  return levels.filter((l) => l.load < 1).toSorted((a, b) => b.load - a.load)[0];
}

/** Judges every level against issue #12's overload target, given the measured `capacityPerS`. */
export function overloadVerdicts(levels: readonly LevelFigures[], capacityPerS: number) {
  const reference = referenceLevel(levels);
  const refP99 = reference?.ttftMs.p99;
  const known = (n: number | undefined): n is number => n !== undefined && Number.isFinite(n);
  const perLevel: LevelVerdict[] = levels.map((l) => {
    const unserved = l.timeouts + l.otherErrors + l.abandoned;
    const clear = l.shedClear === l.shed && unserved === 0;
    const prompt = l.shed === 0 || (known(refP99) && l.rejectMs.p99 <= refP99);
    return {
      load: l.load,
      goodput: l.load < 1
        ? undefined
        : l.goodputPerS >= OVERLOAD_TARGETS.goodputShare * capacityPerS,
      ttft: known(refP99) && known(l.ttftMs.p99)
        ? l.ttftMs.p99 <= OVERLOAD_TARGETS.ttftP99Factor * refP99
        : undefined,
      rejections: clear && prompt,
      circuits: l.circuits.opened === 0,
    };
  });
  const all = (pick: (v: LevelVerdict) => boolean | undefined) =>
    perLevel.every((v) => pick(v) !== false) && perLevel.some((v) => pick(v) !== undefined);
  return {
    referenceLoad: reference?.load,
    referenceTtftP99Ms: refP99,
    perLevel,
    goodput: all((v) => v.goodput),
    ttft: all((v) => v.ttft),
    rejections: all((v) => v.rejections),
    circuits: all((v) => v.circuits),
  };
}

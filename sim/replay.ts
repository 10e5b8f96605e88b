/** Replays a trace straight into in-process engines on a clock, measuring how far they lag behind it. */
import { type Clock, RealClock } from "./clock.ts";
import { summarize, type Summary } from "./stats.ts";
import { Engine, type EngineOptions } from "./engine.ts";
import { traceBlockHashes, type TraceRequest } from "./trace.ts";

/** Options of {@linkcode replayTrace}. */
export interface ReplayOptions {
  /** Engines to spread the trace over. @default 4 */
  replicas?: number;
  /** Simulated ms per real ms (ignored when `clock` is given). @default 10 */
  timeScale?: number;
  /** Stop sending new requests after this much trace time (simulated ms). @default whole trace */
  traceMs?: number;
  /** Stop waiting for the engines to drain after this much simulated time past the last arrival. @default 600_000 */
  drainMs?: number;
  /** The clock; a real clock at `timeScale` unless given. */
  clock?: Clock;
  /** Engine settings for every replica. */
  engine?: EngineOptions;
  /** Requests longer than this (prompt plus output) are refused, as vLLM does. @default 131072 */
  maxModelLen?: number;
}

/** What a replay measured. */
export interface ReplayReport {
  /** Requests sent. */
  sent: number;
  /** Requests finished before the drain limit. */
  finished: number;
  /** Requests refused for exceeding the model's context length. */
  rejected: number;
  /** Simulated ms the replay covered. */
  simulatedMs: number;
  /** Real ms it took. */
  realMs: number;
  /** Engine steps run, all replicas. */
  steps: number;
  /** How late steps ended against the clock, in simulated ms. */
  stepLagMs: Summary;
  /** How late arrivals were injected against the clock, in simulated ms. */
  arrivalLagMs: Summary;
  /** Time to first token, simulated ms. */
  ttftMs: Summary;
  /** Prefix-cache hit rate over prompt tokens, hits on the GPU and in a host tier together. */
  prefixHitRate: number;
  /** Preemptions, all replicas. */
  preemptions: number;
}

/** Sequences an engine has taken: running, queued, or loading KV from its host tier. */
function loadOf(engine: Engine): number {
  return engine.numRunning + engine.numWaiting + engine.numLoading;
}

/**
 * Picks the engine with the longest cached prefix for `hashes` (on the GPU or in a host tier),
 * then the least loaded.
 */
function pickEngine(engines: readonly Engine[], hashes: readonly number[]): Engine {
  let best = engines[0]!;
  let bestHit = -1;
  let bestLoad = Infinity;
  for (const e of engines) {
    const load = loadOf(e);
    const hit = e.kv.reusablePrefixBlocks(hashes);
    // Prefix affinity only while the replica is not far busier than the least loaded.
    const score = load > 2 * Math.min(...engines.map(loadOf)) + 4 ? -1 : hit;
    if (score > bestHit || (score === bestHit && load < bestLoad)) {
      best = e;
      bestHit = score;
      bestLoad = load;
    }
  }
  return best;
}

/** Replays `records` (sorted by timestamp) into fresh engines and reports lag and latency. */
export function replayTrace(
  records: readonly TraceRequest[],
  options: ReplayOptions = {},
): Promise<ReplayReport> {
  const clock = options.clock ?? new RealClock({ timeScale: options.timeScale ?? 10 });
  const engines = Array.from(
    { length: options.replicas ?? 4 },
    () => new Engine(clock, { recordLag: true, ...options.engine }),
  );
  const traceMs = options.traceMs ?? Infinity;
  const maxModelLen = options.maxModelLen ?? 131_072;
  const inTime = records.filter((r) => r.timestamp <= traceMs);
  const todo = inTime.filter((r) => r.input_length + r.output_length <= maxModelLen);
  const rejected = inTime.length - todo.length;
  const origin = clock.now();
  const realStart = performance.now();
  const arrivalLags: number[] = [];
  const ttfts: number[] = [];
  let sent = 0;
  let finished = 0;
  const { promise, resolve } = Promise.withResolvers<ReplayReport>();
  let drainTimer: { cancel(): void } | undefined;

  const report = () => {
    drainTimer?.cancel();
    for (const e of engines) e.close();
    const lags = engines.flatMap((e) => e.lag.samples ?? []);
    let queries = 0;
    let hits = 0;
    for (const e of engines) {
      queries += e.kv.stats.queries;
      hits += e.kv.stats.hits + e.kv.stats.externalHits;
    }
    resolve({
      sent,
      finished,
      rejected,
      simulatedMs: clock.now() - origin,
      realMs: performance.now() - realStart,
      steps: engines.reduce((n, e) => n + e.steps, 0),
      stepLagMs: summarize(lags),
      arrivalLagMs: summarize(arrivalLags),
      ttftMs: summarize(ttfts),
      prefixHitRate: queries === 0 ? 0 : hits / queries,
      preemptions: engines.reduce((n, e) => n + e.metrics.preemptions, 0),
    });
  };
  const maybeDone = () => {
    if (sent === todo.length && finished === sent) report();
  };

  let next = 0;
  const inject = () => {
    const now = clock.now() - origin;
    while (next < todo.length && todo[next]!.timestamp <= now) {
      const record = todo[next++]!;
      arrivalLags.push(now - record.timestamp);
      const blockHashes = traceBlockHashes(record);
      const engine = pickEngine(engines, blockHashes);
      const arrival = clock.now();
      engine.submit({
        id: `r${sent}`,
        promptTokens: record.input_length,
        blockHashes,
        maxTokens: record.output_length,
      }, {
        onToken: (index, atMs) => {
          if (index === 0) ttfts.push(atMs - arrival);
        },
        onFinish: () => {
          finished++;
          maybeDone();
        },
      });
      sent++;
    }
    if (next < todo.length) {
      clock.at(origin + todo[next]!.timestamp, inject);
    } else {
      drainTimer = clock.at(clock.now() + (options.drainMs ?? 600_000), report);
      maybeDone();
    }
  };
  clock.at(origin + (todo[0]?.timestamp ?? 0), inject);
  return promise;
}

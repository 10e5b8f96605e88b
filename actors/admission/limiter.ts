/** An adaptive in-flight limit per replica: a latency-gradient concurrency limiter (after Netflix's Gradient2 and TCP Vegas) fed with each request's time to first token. */

/** Settings of a {@linkcode ConcurrencyLimiter}. */
export interface ConcurrencyLimiterOptions {
  /** The least the limit goes down to. */
  floor: number;
  /** The most it goes up to (the configured or vLLM-default request cap). */
  ceiling: number;
  /** Where it starts, before any sample. @default min(ceiling, 8) */
  initial?: number;
  /**
   * How far recent latency may rise over the no-load baseline before it counts as queueing inside
   * the replica and the limit goes down.
   */
  tolerance: number;
  /**
   * Ms a typical request's recent latency must also exceed its no-load latency by to count as
   * queueing (a few ms over a sub-millisecond baseline is the host's CPU, not vLLM's queue).
   * @default 0
   */
  minQueueingMs?: number;
}

/** What a request's answer shows of its replica: one latency sample. */
export interface LatencySample {
  /**
   * `ttft`: time from sending to the stream's first byte; `total`: a whole (non-streamed)
   * answer's time, which includes its generation.
   */
  kind: "ttft" | "total";
  /** The time, in ms. */
  ms: number;
  /** The work it stands for, in prompt-token equivalents (see {@linkcode workTokens}). */
  work: number;
  /** Requests in flight on the replica when it was sent, itself included. */
  inFlight: number;
  /**
   * What the replica's last recent scrape says: `true` when it has requests waiting (or its KV
   * cache nearly full), `false` when none wait, undefined when unknown. Latency that rises while
   * the replica reports nothing waiting is the gateway's or the network's, not vLLM's queue, and
   * does not bring the limit down.
   */
  replicaQueueing?: boolean;
}

/**
 * Prompt tokens that a request's fixed cost (scheduling, the first decode step, HTTP) is worth:
 * prefill time is about `a + b * tokens`, and `a / b` is some hundreds of tokens on vLLM, so
 * latency per `(tokens + this)` is about the same for short and long prompts.
 */
export const FIXED_WORK_TOKENS = 512;
/** Prompt tokens that generating one output token is counted as, for whole answers. */
export const DECODE_WORK_TOKENS = 256;

/**
 * The work of a request in prompt-token equivalents: its prompt, its fixed cost, and for a whole
 * answer its generated tokens; latency over work compares requests of different sizes.
 */
export function workTokens(promptTokens: number, generatedTokens = 0): number {
  return promptTokens + FIXED_WORK_TOKENS + generatedTokens * DECODE_WORK_TOKENS;
}

/** Weight of the newest sample in the recent latency (a short window, some ten samples). */
const RECENT_ALPHA = 0.1;
/** Weight of a faster sample in the baseline: it comes down quickly to a low percentile. */
const BASELINE_DOWN_ALPHA = 0.1;
/** Weight of a slower sample sent at low in-flight in the baseline: it rises slowly. */
const BASELINE_UP_ALPHA = 0.02;
/** Weight of the newest sample in the typical work of a request. */
const WORK_ALPHA = 0.05;
/** Share of the gap to `limit * gradient` closed per sample while latency is past tolerance. */
const DECREASE_RATE = 0.1;
/** The gradient is never below this: one sample never cuts the limit by more than 5%. */
const MIN_GRADIENT = 0.5;
/** The limit before any sample, when the ceiling is higher. */
const DEFAULT_INITIAL = 8;

/** The baseline and recent latency per unit of work of one kind of sample. */
class LatencyTrack {
  /** A slowly rising low percentile of ms per work token of samples sent at low in-flight. */
  baseline: number | undefined;
  /** EWMA of ms per work token of recent samples. */
  recent: number | undefined;
  /** EWMA of the work tokens of a request. */
  work = 0;

  add(sample: LatencySample, low: boolean): void {
    const cost = sample.ms / sample.work;
    this.recent = this.recent === undefined
      ? cost
      : this.recent + RECENT_ALPHA * (cost - this.recent);
    this.work = this.work === 0 ? sample.work : this.work + WORK_ALPHA * (sample.work - this.work);
    if (this.baseline === undefined) this.baseline = cost;
    else if (cost < this.baseline) this.baseline += BASELINE_DOWN_ALPHA * (cost - this.baseline);
    else if (low) this.baseline += BASELINE_UP_ALPHA * (cost - this.baseline);
  }
}

/**
 * The in-flight limit of one replica. Each finished request gives a sample: its time to first
 * token (or a whole answer's time), per unit of work so that long and short prompts compare. The
 * baseline is the replica's no-load latency, a low percentile that comes down with any faster
 * sample and rises slowly, only with samples sent while few requests were in flight (so queueing
 * under sustained load cannot raise it). While recent latency stays within `tolerance` of the
 * baseline and the limit is in use, the limit grows: by one a sample until latency first passes
 * tolerance (slow start: it doubles per round of requests), then by `1/sqrt(limit)` a sample
 * (about `sqrt(limit)` per round); once it passes tolerance the replica queues requests
 * itself, and the limit moves toward `limit * tolerance * baseline / recent` (at most 5% a
 * sample). It stays within `[floor, ceiling]`. O(1) a sample, no timers: time enters only
 * through the samples, so it is deterministic.
 */
export class ConcurrencyLimiter {
  readonly #options: ConcurrencyLimiterOptions;
  readonly #ttft = new LatencyTrack();
  readonly #total = new LatencyTrack();
  #limit: number;
  /**
   * Whether latency has passed tolerance yet. Until it has, the limit grows by one a sample (it
   * doubles per round of requests, as TCP's slow start), so a gateway that starts or restarts
   * under heavy load reaches its replicas' capacity in a few rounds rather than shedding
   * meanwhile; after, it grows by `1/sqrt(limit)` a sample.
   */
  #congested = false;
  /** `#limit` rounded down, what `hasRoom` compares with. */
  #slots: number;

  /** @param options floor, ceiling, start and tolerance */
  constructor(options: ConcurrencyLimiterOptions) {
    this.#options = options;
    this.#limit = this.#clamp(options.initial ?? Math.min(options.ceiling, DEFAULT_INITIAL));
    this.#slots = Math.floor(this.#limit);
  }

  /** Requests the replica may have in flight now. */
  get limit(): number {
    return this.#slots;
  }

  /**
   * The replica's no-load latency for a typical request, in ms: from streams' first tokens, else
   * from whole answers; undefined before any sample.
   */
  get noLoadMs(): number | undefined {
    const track = this.#ttft.baseline === undefined ? this.#total : this.#ttft;
    return track.baseline === undefined ? undefined : track.baseline * track.work;
  }

  /** Takes one finished request's latency into the baseline and the limit. */
  observe(sample: LatencySample): void {
    if (!(sample.ms >= 0) || !(sample.work > 0)) return;
    const track = sample.kind === "ttft" ? this.#ttft : this.#total;
    // Few in flight: at the floor too, or queueing at the floor would raise the baseline itself.
    const low = sample.inFlight <= Math.max(1, this.#limit / 4);
    track.add(sample, low);
    const ratio = track.recent! / track.baseline!;
    const tolerance = this.#options.tolerance;
    const excessMs = (track.recent! - track.baseline!) * track.work;
    let limit = this.#limit;
    const queueing = ratio > tolerance && excessMs >= (this.#options.minQueueingMs ?? 0) &&
      sample.replicaQueueing !== false;
    if (!queueing) {
      // A limit that is not in use says nothing about a larger one.
      if (sample.inFlight < limit / 2) return;
      limit += this.#congested ? 1 / Math.sqrt(limit) : 1;
    } else {
      this.#congested = true;
      const gradient = Math.max(MIN_GRADIENT, tolerance / ratio);
      limit -= DECREASE_RATE * limit * (1 - gradient);
    }
    this.#limit = this.#clamp(limit);
    this.#slots = Math.floor(this.#limit);
  }

  #clamp(limit: number): number {
    return Math.min(this.#options.ceiling, Math.max(this.#options.floor, limit));
  }
}

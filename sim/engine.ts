/** The replica's engine core: waiting queue, continuous batching, chunked prefill, prefix cache. */
import type { Clock, ClockTimer } from "./clock.ts";
import {
  type EngineMetrics,
  type FinishReason,
  type LagStats,
  newEngineMetrics,
} from "./engine_metrics.ts";
import { BLOCK_TOKENS, KvCache } from "./kv_cache.ts";
import {
  newSequence,
  type Sequence,
  type SequenceEvents,
  type SequenceRequest,
} from "./sequence.ts";
import { H100_LLAMA_8B, type LatencyModel, stepMs, type StepPart } from "./latency.ts";
export type { EngineMetrics, FinishReason, LagStats } from "./engine_metrics.ts";
export type { SequenceEvents, SequenceRequest, SequenceResult } from "./sequence.ts";

/** Settings of an {@linkcode Engine}. */
export interface EngineOptions {
  /** KV budget in tokens. @default 430_000 */
  kvTokens?: number;
  /** Most sequences running at once (vLLM's max_num_seqs). @default 256 */
  maxNumSeqs?: number;
  /** Most tokens computed in one step (vLLM's max_num_batched_tokens). @default 8192 */
  maxNumBatchedTokens?: number;
  /** Step-time constants. @default H100_LLAMA_8B */
  latency?: LatencyModel;
  /** Simulated ms per reported second is 1000 times this (the time scale). @default 1 */
  metricsTimeScale?: number;
  /** Keep every step's lag in `lag.samples` (for benchmarks). @default false */
  recordLag?: boolean;
}

/**
 * Real ms of back-to-back work on steps that are already due (a real clock got ahead of the step
 * loop) before the loop yields to I/O through a timer.
 */
const BURST_BUDGET_MS = 4;

/** Most steps applied back to back before the loop yields, however cheap they are. */
const MAX_BURST_STEPS = 4096;

const NO_TIMER: ClockTimer = { cancel() {} };

interface Scheduled {
  seq: Sequence;
  tokens: number;
}

/**
 * A deterministic model of one vLLM replica. Every decision is a function of the requests, their
 * arrival times and the clock, so a virtual clock replays it exactly.
 */
export class Engine {
  readonly #clock: Clock;
  readonly #kv: KvCache;
  readonly #maxSeqs: number;
  readonly #maxBatched: number;
  readonly #latency: LatencyModel;
  readonly #secondsPerSimMs: number;
  readonly #seqs = new Map<string, Sequence>();
  #waiting: Sequence[] = [];
  #running: Sequence[] = [];
  #step: { scheduled: Scheduled[]; endMs: number; timer: ClockTimer } | undefined;
  #kick: ClockTimer | undefined;
  /** When the last step ended on the simulated time line: the next one never starts before. */
  #lastEndMs = -Infinity;
  #closed = false;
  /** Extra ms added to every step (a slow-tokens fault). */
  extraStepMs = 0;
  /** Counters and histograms for `/metrics`. */
  readonly metrics: EngineMetrics = newEngineMetrics();
  /** How late steps ended against the clock. */
  readonly lag: LagStats;
  /** Steps run so far. */
  steps = 0;

  /** @param clock the time line it runs on, @param options limits and the latency model */
  constructor(clock: Clock, options: EngineOptions = {}) {
    this.#clock = clock;
    this.#kv = new KvCache(options.kvTokens ?? 430_000);
    this.#maxSeqs = options.maxNumSeqs ?? 256;
    this.#maxBatched = options.maxNumBatchedTokens ?? 8192;
    this.#latency = options.latency ?? H100_LLAMA_8B;
    this.#secondsPerSimMs = 1 / 1000 / (options.metricsTimeScale ?? 1);
    this.lag = { steps: 0, maxMs: 0, sumMs: 0, samples: options.recordLag ? [] : undefined };
  }

  /** The KV pool and prefix cache. */
  get kv(): KvCache {
    return this.#kv;
  }

  /** Sequences running (admitted, holding KV). */
  get numRunning(): number {
    return this.#running.length;
  }

  /** Sequences waiting for admission. */
  get numWaiting(): number {
    return this.#waiting.length;
  }

  /** Ids of the waiting sequences in queue order. */
  get waitingIds(): string[] {
    return this.#waiting.map((s) => s.request.id);
  }

  /** Ids of the running sequences in admission order. */
  get runningIds(): string[] {
    return this.#running.map((s) => s.request.id);
  }

  /** Largest prompt (in tokens) this engine could ever admit. */
  get maxPromptTokens(): number {
    return this.#kv.totalBlocks * BLOCK_TOKENS;
  }

  /** Queues a sequence; its events fire as the engine steps. */
  submit(request: SequenceRequest, events: SequenceEvents = {}): void {
    if (this.#closed) throw new Error("Engine is closed: start a new one");
    if (this.#seqs.has(request.id)) throw new Error(`Sequence "${request.id}" is already queued`);
    if (request.promptTokens + request.maxTokens > this.maxPromptTokens) {
      throw new RangeError(
        `Sequence needs ${
          request.promptTokens + request.maxTokens
        } tokens of KV but the replica holds ${this.maxPromptTokens}: shorten the prompt or max_tokens`,
      );
    }
    const seq = newSequence(request, events, this.#clock.now());
    this.#seqs.set(request.id, seq);
    this.#waiting.push(seq);
    this.#wake(seq.arrivalMs);
  }

  /**
   * Ends a sequence now (client gone, stop string matched): it leaves the queue or the batch and
   * its KV blocks are freed at once. Returns false when it is unknown or already done.
   */
  abort(id: string, reason: FinishReason = "abort"): boolean {
    const seq = this.#seqs.get(id);
    if (!seq || seq.state === "done") return false;
    if (seq.state === "waiting") this.#waiting = this.#waiting.filter((s) => s !== seq);
    else this.#running = this.#running.filter((s) => s !== seq);
    this.#end(seq, reason, false);
    return true;
  }

  /** Stops the step loop; pending sequences never finish. */
  close(): void {
    this.#closed = true;
    this.#step?.timer.cancel();
    this.#kick?.cancel();
    this.#step = undefined;
    this.#kick = undefined;
  }

  /**
   * Starts the idle step loop with a step at simulated time `atMs` (a request's arrival): an idle
   * engine takes a request the moment it arrives, however late the timer that runs the step fires,
   * and idle time never becomes steps to catch up.
   */
  #wake(atMs: number): void {
    if (this.#step || this.#kick || this.#closed) return;
    this.#kick = this.#clock.at(atMs, () => {
      this.#kick = undefined;
      this.#startStep(Math.max(atMs, this.#lastEndMs));
    });
  }

  /**
   * Runs steps from `startMs` on the simulated time line: step i ends at `startMs` plus the
   * durations of steps 0 to i, whatever the real clock does. A step already due (a timer fired
   * late, or steps are shorter than timer granularity) is applied at once, so the model is never
   * slowed by the event loop; after `BURST_BUDGET_MS` of such work the loop yields to I/O through
   * a timer and goes on catching up.
   */
  #startStep(startMs: number): void {
    let start = startMs;
    const yieldAt = performance.now() + BURST_BUDGET_MS;
    for (let burst = 0; !this.#closed; burst++) {
      const scheduled = this.#schedule(start);
      if (scheduled.length === 0) {
        // Nothing could run at `start`: the queue head arrives later (or waits for KV).
        const head = this.#waiting[0];
        if (head) this.#wake(head.arrivalMs > start ? head.arrivalMs : this.#clock.now());
        return;
      }
      const parts: StepPart[] = scheduled.map(({ seq, tokens }) => ({
        contextTokens: seq.computed,
        newTokens: tokens,
        prefill: seq.computed < seq.prefillTarget,
      }));
      const endMs = start + stepMs(parts, this.#latency) + this.extraStepMs;
      if (
        endMs > this.#clock.now() || burst >= MAX_BURST_STEPS || performance.now() >= yieldAt
      ) {
        const timer = this.#clock.at(endMs, () => this.#finishStep());
        this.#step = { scheduled, endMs, timer };
        return;
      }
      this.#step = { scheduled, endMs, timer: NO_TIMER };
      const next = this.#applyStep();
      if (next === undefined) return;
      start = next;
    }
  }

  #schedule(nowMs: number): Scheduled[] {
    let budget = this.#maxBatched;
    const scheduled: Scheduled[] = [];
    for (let i = 0; i < this.#running.length && budget > 0; i++) {
      const seq = this.#running[i]!;
      if (seq.computed < seq.prefillTarget) {
        const tokens = Math.min(seq.prefillTarget - seq.computed, budget);
        budget -= tokens;
        scheduled.push({ seq, tokens });
        continue;
      }
      if (!this.#ensureBlocks(seq, seq.computed + 1, i)) {
        i--;
        continue;
      }
      budget -= 1;
      scheduled.push({ seq, tokens: 1 });
    }
    while (this.#waiting.length > 0 && this.#running.length < this.#maxSeqs && budget > 0) {
      const seq = this.#waiting[0]!;
      // A step that starts (on the simulated time line) before a request arrived cannot take it.
      if (seq.arrivalMs > nowMs) break;
      const hashes = seq.request.blockHashes;
      const maxHit = Math.min(hashes.length, Math.floor((seq.prefillTarget - 1) / BLOCK_TOKENS));
      const got = this.#kv.allocate(hashes, seq.prefillTarget, maxHit);
      if (!got) break;
      this.#waiting.shift();
      seq.state = "running";
      seq.hold = got.hold;
      seq.computed = got.hitBlocks * BLOCK_TOKENS;
      if (!seq.admitted) {
        seq.admitted = true;
        seq.cachedTokens = seq.computed;
        this.#kv.recordQuery(seq.request.promptTokens, seq.computed);
        this.metrics.queue.observe((nowMs - seq.arrivalMs) * this.#secondsPerSimMs);
        seq.events.onAdmitted?.(seq.cachedTokens);
      }
      this.#running.push(seq);
      const tokens = Math.min(seq.prefillTarget - seq.computed, budget);
      budget -= tokens;
      scheduled.push({ seq, tokens });
    }
    return scheduled;
  }

  /** Makes `seq` hold enough blocks for `tokens`, preempting later sequences if it must. */
  #ensureBlocks(seq: Sequence, tokens: number, index: number): boolean {
    const hold = seq.hold!;
    while ((hold.cached.length + hold.owned) * BLOCK_TOKENS < tokens) {
      if (this.#kv.grow(hold)) continue;
      const victim = this.#running.length - 1 > index ? this.#running.at(-1)! : seq;
      this.#preempt(victim);
      if (victim === seq) return false;
    }
    return true;
  }

  #preempt(seq: Sequence): void {
    this.#running = this.#running.filter((s) => s !== seq);
    this.#kv.release(seq.hold!);
    seq.hold = undefined;
    seq.state = "waiting";
    seq.computed = 0;
    seq.prefillTarget = seq.request.promptTokens + seq.generated;
    this.#waiting.unshift(seq);
    this.metrics.preemptions++;
  }

  #finishStep(): void {
    const next = this.#applyStep();
    if (next !== undefined) this.#startStep(next);
  }

  /** Applies the step in flight at its end time; returns when the next one starts, if any. */
  #applyStep(): number | undefined {
    const step = this.#step;
    if (!step) return undefined;
    this.#step = undefined;
    const lag = Math.max(0, this.#clock.now() - step.endMs);
    this.steps++;
    this.lag.steps++;
    this.lag.sumMs += lag;
    if (lag > this.lag.maxMs) this.lag.maxMs = lag;
    this.lag.samples?.push(lag);
    const atMs = step.endMs;
    this.#lastEndMs = atMs;
    for (const { seq, tokens } of step.scheduled) {
      if (seq.state !== "running") continue;
      seq.computed += tokens;
      this.#publish(seq);
      if (seq.computed < seq.prefillTarget) continue;
      if (seq.request.maxTokens === 0) {
        this.metrics.promptTokens += seq.request.promptTokens;
        this.#running = this.#running.filter((s) => s !== seq);
        this.#end(seq, "length", true, atMs);
        continue;
      }
      this.#emit(seq, atMs);
    }
    if (this.#running.length > 0 || this.#waiting.length > 0) return atMs;
    return undefined;
  }

  #publish(seq: Sequence): void {
    const hold = seq.hold!;
    const full = Math.min(Math.floor(seq.computed / BLOCK_TOKENS), seq.request.blockHashes.length);
    for (let i = hold.cached.length; i < full; i++) {
      this.#kv.publish(hold, i, seq.request.blockHashes[i]!);
    }
  }

  #emit(seq: Sequence, atMs: number): void {
    const index = seq.generated++;
    this.metrics.generationTokens++;
    const seconds = this.#secondsPerSimMs;
    if (seq.firstTokenMs === undefined) {
      seq.firstTokenMs = atMs;
      this.metrics.promptTokens += seq.request.promptTokens;
      this.metrics.ttft.observe((atMs - seq.arrivalMs) * seconds);
    } else if (index > 0) {
      this.metrics.itl.observe((atMs - seq.lastTokenMs) * seconds);
    }
    seq.lastTokenMs = atMs;
    seq.events.onToken?.(index, atMs);
    if (seq.state === "running" && seq.generated >= seq.request.maxTokens) {
      this.#running = this.#running.filter((s) => s !== seq);
      this.#end(seq, seq.request.endReason ?? "length", true, atMs);
    }
  }

  #end(seq: Sequence, reason: FinishReason, notify: boolean, atMs = this.#clock.now()): void {
    if (seq.hold) this.#kv.release(seq.hold);
    seq.hold = undefined;
    seq.state = "done";
    this.#seqs.delete(seq.request.id);
    this.metrics.finished[reason]++;
    if (reason !== "abort") {
      this.metrics.e2e.observe((atMs - seq.arrivalMs) * this.#secondsPerSimMs);
    }
    if (notify) {
      seq.events.onFinish?.({
        reason,
        promptTokens: seq.request.promptTokens,
        cachedTokens: seq.cachedTokens,
        outputTokens: seq.generated,
        arrivalMs: seq.arrivalMs,
        firstTokenMs: seq.firstTokenMs,
        finishMs: atMs,
      });
    }
  }
}

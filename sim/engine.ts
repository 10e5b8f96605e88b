/**
 * The replica's engine core: waiting queue, continuous batching, chunked prefill, prefix cache,
 * and loads from an optional host KV tier.
 */
import type { Clock, ClockTimer } from "./clock.ts";
import {
  type EngineMetrics,
  type FinishReason,
  type LagStats,
  newEngineMetrics,
} from "./engine_metrics.ts";
import { HostLink } from "./host_link.ts";
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

/** A replica's GPU KV budget in tokens unless told otherwise: an 8B model on an H100. */
export const DEFAULT_KV_TOKENS = 430_000;

/** Host-to-GPU bandwidth for loading offloaded KV unless told otherwise: 32 GB/s (PCIe 5 x16). */
export const DEFAULT_OFFLOAD_BANDWIDTH_BYTES_PER_S = 32e9;

/** How the waiting queue is ordered: by arrival (vLLM's default), or by `priority` then arrival. */
export type SchedulingPolicy = "fcfs" | "priority";

/** Settings of an {@linkcode Engine}. */
export interface EngineOptions {
  /** KV budget in tokens. @default 430_000 */
  kvTokens?: number;
  /**
   * Tokens of the host (CPU) KV tier, vLLM's `--kv-offloading-size` in tokens: every computed
   * block is copied there, and a prompt's blocks found there are loaded, not recomputed.
   * @default 0 (no tier)
   */
  offloadTokens?: number;
  /** Bandwidth of the link that loads KV from the host tier, in bytes per second. @default 32e9 */
  offloadBandwidthBytesPerS?: number;
  /** Most sequences running at once (vLLM's max_num_seqs). @default 256 */
  maxNumSeqs?: number;
  /** Most tokens computed in one step (vLLM's max_num_batched_tokens). @default 8192 */
  maxNumBatchedTokens?: number;
  /**
   * vLLM's `--scheduling-policy`: `priority` serves the waiting queue by the requests' `priority`
   * (lower first), then arrival, and preempts the running sequence of the worst priority.
   * @default "fcfs"
   */
  schedulingPolicy?: SchedulingPolicy;
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

/** Whether `a` is scheduled after `b` under the priority policy: a higher priority value, then a later arrival. */
function worse(a: Sequence, b: Sequence): boolean {
  const pa = a.request.priority ?? 0;
  const pb = b.request.priority ?? 0;
  return pa > pb || (pa === pb && a.arrivalMs > b.arrivalMs);
}

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
  readonly #byPriority: boolean;
  readonly #secondsPerSimMs: number;
  readonly #seqs = new Map<string, Sequence>();
  #waiting: Sequence[] = [];
  #running: Sequence[] = [];
  readonly #link: HostLink;
  #step: { scheduled: Scheduled[]; endMs: number; timer: ClockTimer } | undefined;
  /** The pending start of an idle step loop, at simulated time `atMs`. */
  #kick: { atMs: number; timer: ClockTimer } | undefined;
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
    this.#kv = new KvCache(options.kvTokens ?? DEFAULT_KV_TOKENS, {
      hostTokens: options.offloadTokens ?? 0,
    });
    this.#maxSeqs = options.maxNumSeqs ?? 256;
    this.#maxBatched = options.maxNumBatchedTokens ?? 8192;
    this.#latency = options.latency ?? H100_LLAMA_8B;
    this.#byPriority = options.schedulingPolicy === "priority";
    this.#link = new HostLink(
      this.#latency.kvBytesPerToken,
      options.offloadBandwidthBytesPerS ?? DEFAULT_OFFLOAD_BANDWIDTH_BYTES_PER_S,
    );
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

  /**
   * Sequences admitted but waiting for their KV to load from the host tier. vLLM counts them
   * among the waiting; here they hold their blocks and also one of the `maxNumSeqs` places, so a
   * finished load always finds room in the batch.
   */
  get numLoading(): number {
    return this.#link.size;
  }

  /** Ids of the waiting sequences in queue order. */
  get waitingIds(): string[] {
    return this.#waiting.map((s) => s.request.id);
  }

  /** Ids of the loading sequences in the order their loads finish. */
  get loadingIds(): string[] {
    return this.#link.ids;
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
    this.#enqueue(seq);
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
    else if (seq.state === "loading") this.#link.remove(seq);
    else this.#running = this.#running.filter((s) => s !== seq);
    this.#end(seq, reason, false);
    return true;
  }

  /** Stops the step loop; pending sequences never finish. */
  close(): void {
    this.#closed = true;
    this.#step?.timer.cancel();
    this.#kick?.timer.cancel();
    this.#step = undefined;
    this.#kick = undefined;
  }

  /**
   * Starts the idle step loop with a step at simulated time `atMs` (a request's arrival): an idle
   * engine takes a request the moment it arrives, however late the timer that runs the step fires,
   * and idle time never becomes steps to catch up. An earlier wake replaces a later one (a
   * request arriving while the loop sleeps until a host load is done).
   */
  #wake(atMs: number): void {
    if (this.#step || this.#closed) return;
    if (this.#kick) {
      if (this.#kick.atMs <= atMs) return;
      this.#kick.timer.cancel();
    }
    const timer = this.#clock.at(atMs, () => {
      this.#kick = undefined;
      this.#startStep(Math.max(atMs, this.#lastEndMs));
    });
    this.#kick = { atMs, timer };
  }

  /**
   * When an idle loop that could run nothing at `startMs` should look again: the queue head's
   * arrival or the end of the next host load, whichever is first.
   */
  #idleWakeMs(startMs: number): number | undefined {
    const head = this.#waiting[0];
    const loadDone = this.#link.nextDoneMs;
    if (head && head.arrivalMs > startMs) return Math.min(head.arrivalMs, loadDone ?? Infinity);
    if (loadDone !== undefined) return loadDone;
    return head ? this.#clock.now() : undefined;
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
        // Nothing could run at `start`: the queue head arrives later, or waits for KV or a load.
        const wakeMs = this.#idleWakeMs(start);
        if (wakeMs !== undefined) this.#wake(wakeMs);
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
    for (const seq of this.#link.takeDone(nowMs)) {
      // Its KV is on the GPU now: the loaded blocks join the prefix cache, and it prefills the rest.
      seq.state = "running";
      this.#publish(seq);
      this.#running.push(seq);
    }
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
    while (
      this.#waiting.length > 0 && this.#running.length + this.#link.size < this.#maxSeqs &&
      budget > 0
    ) {
      const seq = this.#waiting[0]!;
      // A step that starts (on the simulated time line) before a request arrived cannot take it.
      if (seq.arrivalMs > nowMs) break;
      const hashes = seq.request.blockHashes;
      const maxHit = Math.min(hashes.length, Math.floor((seq.prefillTarget - 1) / BLOCK_TOKENS));
      const got = this.#kv.allocate(hashes, seq.prefillTarget, maxHit);
      if (!got) break;
      this.#waiting.shift();
      seq.hold = got.hold;
      seq.computed = (got.hitBlocks + got.externalBlocks) * BLOCK_TOKENS;
      if (!seq.admitted) {
        seq.admitted = true;
        seq.cachedTokens = seq.computed;
        this.#kv.recordQuery(
          seq.request.promptTokens,
          got.hitBlocks * BLOCK_TOKENS,
          got.externalBlocks * BLOCK_TOKENS,
        );
        // Time to admission: a host load afterwards shows in TTFT only.
        this.metrics.queue.observe((nowMs - seq.arrivalMs) * this.#secondsPerSimMs);
        seq.events.onAdmitted?.(seq.cachedTokens);
      }
      if (got.externalBlocks > 0) {
        seq.state = "loading";
        this.#link.load(seq, got.externalBlocks * BLOCK_TOKENS, nowMs);
        continue;
      }
      seq.state = "running";
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
      const victim = this.#victim(seq, index);
      this.#preempt(victim);
      if (victim === seq) return false;
    }
    return true;
  }

  /**
   * Adds `seq` to the waiting queue: at the end (first come, first served), or under the priority
   * policy after every sequence of a better or equal (priority, arrival).
   */
  #enqueue(seq: Sequence): void {
    if (!this.#byPriority) {
      this.#waiting.push(seq);
      return;
    }
    let at = this.#waiting.length;
    while (at > 0 && worse(this.#waiting[at - 1]!, seq)) at--;
    this.#waiting.splice(at, 0, seq);
  }

  /**
   * Which sequence gives up its blocks so that `seq` (at `index` of the running list) can grow:
   * the newest one after it; under the priority policy the worst (priority, arrival) after it,
   * or `seq` itself when it is worse than all of them (vLLM preempts the worst running request).
   */
  #victim(seq: Sequence, index: number): Sequence {
    const running = this.#running;
    if (running.length - 1 <= index) return seq;
    if (!this.#byPriority) return running.at(-1)!;
    let victim = seq;
    for (let i = index + 1; i < running.length; i++) {
      if (worse(running[i]!, victim)) victim = running[i]!;
    }
    return victim;
  }

  #preempt(seq: Sequence): void {
    this.#running = this.#running.filter((s) => s !== seq);
    this.#kv.release(seq.hold!);
    seq.hold = undefined;
    seq.state = "waiting";
    seq.computed = 0;
    seq.prefillTarget = seq.request.promptTokens + seq.generated;
    if (this.#byPriority) this.#enqueue(seq);
    else this.#waiting.unshift(seq);
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
    if (this.#running.length > 0 || this.#waiting.length > 0 || this.#link.size > 0) return atMs;
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

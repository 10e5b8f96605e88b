/** The admission gate of one model: in-flight caps per replica, the bounded fair queue of requests waiting for a slot, hand-off on release, and early shedding. */
import type { PriorityClass } from "../../proxy/auth/principal.ts";
import type { BackendView, ModelRouter, RequestFeatures, RouterLimits } from "../router/mod.ts";
import { type CapacityOptions, DEFAULT_MAX_NUM_SEQS } from "./capacity.ts";
import { type ClassWeights, FairQueue, type QueueEntry } from "./fair_queue.ts";
import { ConcurrencyLimiter, type LatencySample } from "./limiter.ts";

/** How old a replica's scrape may be to say whether it queues requests itself, in ms. */
const SCRAPE_EVIDENCE_MS = 10_000;

/** Settings of the adaptive in-flight limit of each replica. */
export interface AdaptiveOptions {
  /** The least in flight per replica the limit goes down to. */
  floor: number;
  /** Recent over no-load latency past which a replica counts as queueing. */
  tolerance: number;
  /** Ms recent latency must also exceed no-load latency by to count as queueing. @default 0 */
  minQueueingMs?: number;
  /**
   * Without `maxWaitMs`, the longest expected wait in the queue as a multiple of the replicas'
   * no-load time to first token.
   */
  queueWaitFactor: number;
}

/** Settings of an {@linkcode AdmissionGate}. */
export interface AdmissionGateOptions {
  /** The caps of each replica. */
  capacity: CapacityOptions;
  /** Requests that may wait; one more is refused with 429. */
  maxQueue: number;
  /** Each priority class's weight. */
  weights: ClassWeights;
  /** Whether a request that could not be served before its deadline is refused at once (503). */
  shedEarly: boolean;
  /**
   * Longest expected wait in the queue before a request is refused (503), in ms; without it, and
   * with `adaptive`, `queueWaitFactor` times the replicas' no-load time to first token once known.
   * @default Infinity
   */
  maxWaitMs?: number;
  /** Adapts each replica's in-flight limit to its latency, under `capacity.maxInFlight`; off when absent. */
  adaptive?: AdaptiveOptions;
  /** How often waiting requests are looked over (new backends, shedding), in ms. @default 200 */
  sweepMs?: number;
  /** Clock in ms, the one deadlines are on. @default performance.now */
  now?: () => number;
}

/** A request that waits for a slot. */
export interface WaitRequest {
  /** Its routing features (`kvTokens` set). */
  features: RequestFeatures;
  /** Backends it must not go to (a retry's failed ones). */
  exclude: ReadonlySet<string>;
  /** Its class. */
  priority: PriorityClass;
  /** Its rank within the class (its session's attained service): lower goes first. */
  rank: number;
  /** When it arrived, on the gate's clock. */
  arrivedAt: number;
  /** When it times out, on the gate's clock. */
  deadlineAt: number;
  /** Aborts the wait (client gone, timeout, cancel). */
  signal: AbortSignal;
  /**
   * Counts the request on `backend` at once, before the waiter resumes, so no other request takes
   * the slot in between.
   */
  reserve(backend: BackendView): void;
}

/** Why a request is not let in, with the Retry-After it gets. */
export interface Refusal {
  kind: "refused";
  /** 429 for a full queue, 503 for an expected wait past the deadline. */
  status: 429 | 503;
  /** `queue_full` or `overloaded`. */
  code: "queue_full" | "overloaded";
  /** What the client is told. */
  message: string;
  /** Seconds after which a retry may find room. */
  retryAfterS: number;
}

/** How a wait ends. */
export type WaitResult =
  | { kind: "admitted"; backend: BackendView }
  /** No eligible backend is left that it may go to. */
  | { kind: "none" }
  /** Its signal fired. */
  | { kind: "aborted" }
  | Refusal;

/** Counters of what the gate did, for operators and benchmarks. */
export interface AdmissionStats {
  /** Requests that waited and then got a slot. */
  admittedAfterWait: number;
  /** Requests refused because the queue was full. */
  queueFull: number;
  /** Requests refused because their expected wait passed their deadline. */
  shed: number;
  /** Requests whose wait ended by their signal (client gone, timeout, cancel). */
  abandoned: number;
}

interface Waiter {
  readonly request: WaitRequest;
  readonly done: (result: WaitResult) => void;
}

/** Weight of the newest sample in the EWMA of a request's time on a replica. */
const SERVICE_ALPHA = 0.1;
/** Retry-After is kept within these seconds. */
const RETRY_AFTER_MIN_S = 1;
const RETRY_AFTER_MAX_S = 300;

/**
 * One model's admission control. It is the router's {@linkcode RouterLimits}: `pick` only sees
 * replicas under their request and KV-token caps, and while anyone waits a new request gets no
 * slot before them. A released slot goes to the best waiter at once, synchronously (priority
 * class by weighted fair sharing, then least attained service); no KV and no timer are on that
 * path. A sweep every `sweepMs` while requests wait sheds those that can no longer be served
 * in time and places waiters on backends that joined.
 */
export class AdmissionGate implements RouterLimits {
  /** What it did so far. */
  readonly stats: AdmissionStats = { admittedAfterWait: 0, queueFull: 0, shed: 0, abandoned: 0 };
  readonly #router: ModelRouter;
  readonly #options: AdmissionGateOptions;
  readonly #now: () => number;
  readonly #queue: FairQueue<Waiter>;
  /** Estimated KV tokens in flight per backend id. */
  readonly #tokens = new Map<string, number>();
  /** The adaptive in-flight limit per backend id. */
  readonly #limiters = new Map<string, ConcurrencyLimiter>();
  /** The request cap per replica: the configured one, else vLLM's default. */
  readonly #ceiling: number;
  /** EWMA of a request's time on a replica, in ms; undefined before the first release. */
  #serviceMs: number | undefined;
  /** True while a released slot is handed to a waiter: then `hasRoom` lets it take the slot. */
  #serving = false;
  #sweep: ReturnType<typeof setInterval> | undefined;

  /** @param router the model's router, which the gate limits, @param options caps, queue and shedding */
  constructor(router: ModelRouter, options: AdmissionGateOptions) {
    this.#router = router;
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#queue = new FairQueue(options.weights);
    this.#ceiling = options.capacity.maxInFlight ?? DEFAULT_MAX_NUM_SEQS;
    router.limit(this);
  }

  /** Requests waiting. */
  get waiting(): number {
    return this.#queue.size;
  }

  /** Waiting requests of `priority`. */
  waitingOf(priority: PriorityClass): number {
    return this.#queue.sizeOf(priority);
  }

  /** The EWMA of a request's time on a replica, in ms, once one finished. */
  get serviceMs(): number | undefined {
    return this.#serviceMs;
  }

  /** Estimated KV tokens in flight on backend `id`. */
  tokensOn(id: string): number {
    return this.#tokens.get(id) ?? 0;
  }

  /**
   * Whether `view` may take `request`: under its request cap (its adaptive limit when adaptive)
   * and its KV-token cap (a request
   * bigger than the whole cap may run alone), and nobody waits ahead of it.
   */
  hasRoom(view: BackendView, request: RequestFeatures): boolean {
    if (this.#queue.size > 0 && !this.#serving) return false;
    // replicaCapacity() inlined: this runs for every candidate of every pick.
    const options = this.#options.capacity;
    if (view.inFlight >= this.limitOf(view)) return false;
    const kvTokens = view.load?.kvCapacityTokens;
    if (kvTokens === undefined) return true;
    const held = this.#tokens.get(view.id) ?? 0;
    return held === 0 || held + (request.kvTokens ?? 0) <= kvTokens * options.kvFraction;
  }

  /** The requests `view` may have in flight now: its adaptive limit, else the cap. */
  limitOf(view: BackendView): number {
    const adaptive = this.#options.adaptive;
    if (adaptive === undefined) return this.#ceiling;
    let limiter = this.#limiters.get(view.id);
    if (limiter === undefined) {
      limiter = new ConcurrencyLimiter({
        floor: Math.min(adaptive.floor, this.#ceiling),
        ceiling: this.#ceiling,
        tolerance: adaptive.tolerance,
        ...(adaptive.minQueueingMs === undefined ? {} : { minQueueingMs: adaptive.minQueueingMs }),
      });
      this.#limiters.set(view.id, limiter);
    }
    return limiter.limit;
  }

  /** The adaptive limit of each replica that has one, by backend id. */
  limits(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [id, limiter] of this.#limiters) out[id] = limiter.limit;
    return out;
  }

  /** Feeds a finished request's latency on `view` to its adaptive limit (a no-op when not adaptive). */
  observe(view: BackendView, sample: LatencySample): void {
    if (this.#options.adaptive === undefined) return;
    this.limitOf(view);
    const load = view.load;
    // Only a recent scrape speaks for the replica's own queue.
    const recent = load !== undefined && Date.now() - load.scrapedAtMs <= SCRAPE_EVIDENCE_MS;
    this.#limiters.get(view.id)!.observe(
      recent ? { ...sample, replicaQueueing: load.waiting > 0 || load.kvUsage >= 0.9 } : sample,
    );
  }

  /**
   * The longest expected wait a request may arrive to, in ms: `maxWaitMs`, else (adaptive)
   * `queueWaitFactor` times the mean no-load time to first token of the eligible replicas but at
   * least `minQueueingMs`, or Infinity while none has a sample (a cold gateway never sheds for it).
   */
  maxWaitMs(): number {
    const fixed = this.#options.maxWaitMs;
    const adaptive = this.#options.adaptive;
    if ((fixed !== undefined && fixed !== Infinity) || adaptive === undefined) {
      return fixed ?? Infinity;
    }
    let sum = 0;
    let known = 0;
    for (const view of this.#router.table.eligible) {
      const noLoadMs = this.#limiters.get(view.id)?.noLoadMs;
      if (noLoadMs === undefined) continue;
      sum += noLoadMs;
      known++;
    }
    if (known === 0) return Infinity;
    // Never under the queueing floor: a very fast replica's no-load time is a few ms, and the
    // gateway's own CPU jitter alone would then read as a wait worth shedding for.
    return Math.max(adaptive.queueWaitFactor * sum / known, adaptive.minQueueingMs ?? 0);
  }

  /** Counts `tokens` of KV on `view` (a request was sent there). */
  hold(view: BackendView, tokens: number): void {
    this.#tokens.set(view.id, (this.#tokens.get(view.id) ?? 0) + tokens);
  }

  /** Gives back `tokens` of KV on `view`, after a request that held it for `heldMs`. */
  free(view: BackendView, tokens: number, heldMs: number): void {
    const left = (this.#tokens.get(view.id) ?? 0) - tokens;
    if (left > 0) this.#tokens.set(view.id, left);
    else this.#tokens.delete(view.id);
    this.#serviceMs = this.#serviceMs === undefined
      ? heldMs
      : this.#serviceMs + SERVICE_ALPHA * (heldMs - this.#serviceMs);
  }

  /** A slot on `view` freed: hands the freed room to waiters. */
  released(_view: BackendView): void {
    if (this.#queue.size > 0) this.#drain();
  }

  /**
   * Waits for a slot for `request`, which found none: resolves with the backend it is counted on,
   * or a refusal at once when the queue is full (429) or its expected wait passes its deadline
   * (503), or `none` when no eligible backend is left that it may use.
   */
  wait(request: WaitRequest): Promise<WaitResult> | WaitResult {
    if (!this.#anyEligible(request.exclude)) return { kind: "none" };
    if (request.signal.aborted) return { kind: "aborted" };
    if (this.#queue.size >= this.#options.maxQueue) {
      this.stats.queueFull++;
      return this.#refusal(429, "queue_full", this.#drainMs(this.#queue.size));
    }
    if (this.#options.shedEarly) {
      let ahead = 0;
      for (const entry of this.#queue.entries()) {
        if (entry.priority === request.priority && entry.rank <= request.rank) ahead++;
      }
      const shed = this.#shedding(request, ahead, true);
      if (shed) return shed;
    }
    const { promise, resolve } = Promise.withResolvers<WaitResult>();
    const done = (result: WaitResult) => {
      request.signal.removeEventListener("abort", onAbort);
      if (this.#queue.size === 0) this.#stopSweep();
      resolve(result);
    };
    const entry: QueueEntry<Waiter> = this.#queue.push(
      { request, done },
      request.priority,
      request.rank,
    );
    const onAbort = () => {
      if (this.#queue.remove(entry)) {
        this.stats.abandoned++;
        done({ kind: "aborted" });
      }
    };
    request.signal.addEventListener("abort", onAbort, { once: true });
    this.#sweep ??= setInterval(() => this.#sweepNow(), this.#options.sweepMs ?? 200);
    return promise;
  }

  /** Refuses every waiting request (the gateway is closing) and stops the sweep. */
  close(): void {
    for (const entry of [...this.#queue.entries()]) {
      this.#queue.remove(entry);
      entry.item.done(this.#refusal(503, "overloaded", 1, "The gateway is shutting down"));
    }
    this.#stopSweep();
    this.#router.limit(undefined);
  }

  /** Hands free room to the best waiters, in serving order, until the next one does not fit. */
  #drain(): void {
    this.#serving = true;
    try {
      for (let entry = this.#queue.peek(); entry; entry = this.#queue.peek()) {
        const { request, done } = entry.item;
        const backend = this.#router.pick(request.features, request.exclude);
        if (!backend) return;
        this.#queue.shift();
        request.reserve(backend);
        this.stats.admittedAfterWait++;
        done({ kind: "admitted", backend });
      }
    } finally {
      this.#serving = false;
    }
  }

  /** Places waiters on backends that joined, ends those no backend is left for, sheds the hopeless. */
  #sweepNow(): void {
    this.#drain();
    for (const { entries } of this.#queue.ordered()) {
      entries.forEach((entry, ahead) => {
        const { request, done } = entry.item;
        const ending = !this.#anyEligible(request.exclude)
          ? { kind: "none" as const }
          : this.#options.shedEarly
          ? this.#shedding(request, ahead, false)
          : undefined;
        if (ending && this.#queue.remove(entry)) done(ending);
      });
    }
  }

  /**
   * The 503 for `request` if, with `ahead` requests of its class before it, its expected wait
   * passes what is left before its deadline once its own service time is taken off (but never
   * counting that as more than half of what is left), or, when it `arrives`, `maxWaitMs`;
   * undefined while it may still make it or nothing is known yet of the model's service time.
   * Once queued, a request is shed only for its deadline: refusals come at arrival, and one that
   * waits a little longer than expected is still served.
   */
  #shedding(request: WaitRequest, ahead: number, arrives: boolean): Refusal | undefined {
    const waitMs = this.#expectedWaitMs(this.#queue.servedBefore(request.priority, ahead) + 1);
    if (waitMs === undefined) return undefined;
    const leftMs = request.deadlineAt - this.#now();
    const budgetMs = Math.min(
      leftMs - Math.min(this.#serviceMs ?? 0, leftMs / 2),
      arrives ? this.maxWaitMs() - (this.#now() - request.arrivedAt) : Infinity,
    );
    if (waitMs <= budgetMs) return undefined;
    this.stats.shed++;
    return this.#refusal(503, "overloaded", waitMs - Math.max(0, budgetMs));
  }

  /** The expected time until `served` more requests got a slot: slots busy over the service time. */
  #expectedWaitMs(served: number): number | undefined {
    const serviceMs = this.#serviceMs;
    if (serviceMs === undefined) return undefined;
    let busy = 0;
    for (const view of this.#router.table.eligible) busy += view.inFlight;
    if (busy === 0) return undefined;
    return served * serviceMs / busy;
  }

  /** About how long until `count` waiting requests got slots, in ms (for Retry-After). */
  #drainMs(count: number): number {
    return this.#expectedWaitMs(count) ?? 1000;
  }

  #refusal(
    status: 429 | 503,
    code: Refusal["code"],
    afterMs: number,
    message?: string,
  ): Refusal {
    const retryAfterS = Math.min(
      RETRY_AFTER_MAX_S,
      Math.max(RETRY_AFTER_MIN_S, Math.ceil(afterMs / 1000)),
    );
    return {
      kind: "refused",
      status,
      code,
      retryAfterS,
      message: message ??
        (status === 429
          ? `The queue for "${this.#router.model}" is full (${this.#options.maxQueue} requests wait); retry after ${retryAfterS} s`
          : `"${this.#router.model}" is overloaded: this request would wait past its deadline; retry after ${retryAfterS} s`),
    };
  }

  #anyEligible(exclude: ReadonlySet<string>): boolean {
    const eligible = this.#router.table.eligible;
    if (exclude.size === 0) return eligible.length > 0;
    return eligible.some((view) => !exclude.has(view.id));
  }

  #stopSweep(): void {
    if (this.#sweep !== undefined) clearInterval(this.#sweep);
    this.#sweep = undefined;
  }
}

/**
 * The limiter's counters shared through KV by every gateway process on the store: each sync adds
 * this process's deltas into per-bucket counters with KV's atomic `sum`, writes its in-flight
 * counts, and reads everyone's totals back. Off the hot path: a timer every `intervalMs`.
 */
import { Repeating } from "../../actors/runtime/repeating.ts";
import { z } from "zod";
import { retryKvBusy } from "../../actors/runtime/mod.ts";
import type { RateLimiter } from "./limiter.ts";
import type { Scope, ScopeKind } from "./scope.ts";
import { bucketOf, BUCKETS } from "./window.ts";

/** `["limits", "used", bucket, kind, id, metric]`: a KvU64 sum over every process. */
const USED = ["limits", "used"] as const;
/** `["limits", "inflight", kind, id, node]`: one process's requests in flight, `{n, atMs}`. */
const INFLIGHT = ["limits", "inflight"] as const;
/** Mutations per `kv.atomic()`, well under KV's 1000; one scope's are never split. */
const BATCH_MUTATIONS = 500;
const U64 = 1n << 64n;

/** Options of {@linkcode CounterSync}. */
export interface CounterSyncOptions {
  /** This process's id on the store (the actor system's node id). */
  nodeId: string;
  /** Ms between syncs. @default 1000 */
  intervalMs?: number;
  /** Clock in ms since the epoch. @default Date.now */
  now?: () => number;
}

/** One process's in-flight count of a scope, as KV keeps it, and when it wrote it. */
const InflightSchema = z.object({ n: z.number().int().min(0), atMs: z.number() });
type InflightValue = z.infer<typeof InflightSchema>;

/**
 * Keeps a {@linkcode RateLimiter} in step with the other gateway processes on `kv`. Between two
 * syncs each process decides on the totals of the last one plus its own counts since, so several
 * processes together may admit up to about (processes - 1) × rate × interval more than a limit.
 */
export class CounterSync {
  readonly #kv: Deno.Kv;
  readonly #limiter: RateLimiter;
  readonly #node: string;
  readonly #intervalMs: number;
  readonly #now: () => number;
  #running: Promise<void> = Promise.resolve();
  readonly #repeat: Repeating;
  #sweptBefore = 0;

  /**
   * @param kv the store every gateway process opens
   * @param limiter this process's counts
   * @param options its node id and interval
   */
  constructor(kv: Deno.Kv, limiter: RateLimiter, options: CounterSyncOptions) {
    this.#kv = kv;
    this.#limiter = limiter;
    this.#node = options.nodeId;
    this.#intervalMs = options.intervalMs ?? 1_000;
    this.#now = options.now ?? Date.now;
    this.#repeat = new Repeating(() => this.sync(), {
      intervalMs: this.#intervalMs,
      what: "sync the rate-limit counters with KV",
      now: this.#now,
    });
  }

  /** Reads the totals already in KV, then syncs every interval. */
  async start(): Promise<void> {
    await this.sync();
    this.#repeat.start();
  }

  /** Stops the timer and writes what is left, so the other processes count it. */
  async close(): Promise<void> {
    this.#repeat.stop();
    await this.#running;
    await this.#write(this.#now()).catch(() => {});
  }

  /** One round, after the one under way: writes this process's counts, then reads everyone's. */
  sync(): Promise<void> {
    const run = this.#running.then(async () => {
      const now = this.#now();
      await this.#write(now);
      await this.#read(now);
      this.#limiter.evictIdle(now);
      await this.#sweep(now);
    });
    this.#running = run.catch(() => {});
    return run;
  }

  /** Adds the deltas since the last write into KV and writes the in-flight counts that changed. */
  async #write(now: number): Promise<void> {
    const batches: { scopes: Scope[]; mutations: Deno.KvMutation[] }[] = [];
    let batch: { scopes: Scope[]; mutations: Deno.KvMutation[] } | undefined;
    for (const scope of this.#limiter.scopes()) {
      const mutations = this.#mutationsOf(scope, now);
      if (mutations.length === 0) continue;
      if (batch === undefined || batch.mutations.length + mutations.length > BATCH_MUTATIONS) {
        batch = { scopes: [], mutations: [] };
        batches.push(batch);
      }
      batch.scopes.push(scope);
      batch.mutations.push(...mutations);
    }
    let failed: unknown;
    for (const { scopes, mutations } of batches) {
      try {
        const result = await retryKvBusy(() => this.#kv.atomic().mutate(...mutations).commit());
        if (!result.ok) throw new Error("the counters' commit was refused");
        for (const scope of scopes) {
          scope.requests.synced();
          scope.tokens.synced();
          scope.published = scope.inflight;
        }
      } catch (error) {
        // Written at the next sync instead.
        for (const scope of scopes) {
          scope.requests.restore();
          scope.tokens.restore();
        }
        failed ??= error;
      }
    }
    if (failed !== undefined) throw failed;
  }

  #mutationsOf(scope: Scope, now: number): Deno.KvMutation[] {
    const mutations: Deno.KvMutation[] = [];
    for (
      const [metric, window] of [["requests", scope.requests], ["tokens", scope.tokens]] as const
    ) {
      for (const [bucket, delta] of window.take(now)) {
        mutations.push({
          type: "sum",
          key: [...USED, bucket, scope.kind, scope.id, metric],
          value: u64(delta),
        });
      }
    }
    const key = [...INFLIGHT, scope.kind, scope.id, this.#node];
    if (scope.inflight > 0) {
      // Written again at every sync while not zero: its time says the process is still alive.
      const value: InflightValue = { n: scope.inflight, atMs: now };
      mutations.push({ type: "set", key, value, expireIn: this.#staleMs() });
    } else if (scope.published > 0) {
      mutations.push({ type: "delete", key });
    }
    return mutations;
  }

  /** Replaces every scope's totals and in-flight counts elsewhere with what KV holds now. */
  async #read(now: number): Promise<void> {
    const current = bucketOf(now);
    const used: Deno.KvEntry<unknown>[] = [];
    for await (
      const entry of this.#kv.list({
        start: [...USED, current - BUCKETS + 1],
        end: [...USED, current + 1],
      })
    ) used.push(entry);
    const inflight: Deno.KvEntry<unknown>[] = [];
    for await (const entry of this.#kv.list({ prefix: [...INFLIGHT] })) inflight.push(entry);
    // Applied at once, with nothing awaited, so a decision never sees half of a read.
    for (const scope of this.#limiter.scopes()) {
      scope.requests.resetTotals();
      scope.tokens.resetTotals();
      scope.elsewhere = 0;
    }
    for (const { key, value } of used) {
      const [, , bucket, kind, id, metric] = key;
      if (typeof bucket !== "number" || !isKind(kind) || typeof id !== "string") continue;
      if (!(value instanceof Deno.KvU64) || (metric !== "requests" && metric !== "tokens")) {
        continue;
      }
      this.#limiter.scope(kind, id)[metric].setTotal(bucket, signed(value), now);
    }
    const staleBefore = now - this.#staleMs();
    for (const { key, value } of inflight) {
      const [, , kind, id, node] = key;
      if (!isKind(kind) || typeof id !== "string" || node === this.#node) continue;
      const parsed = InflightSchema.safeParse(value);
      if (!parsed.success || parsed.data.atMs < staleBefore) continue;
      this.#limiter.scope(kind, id).elsewhere += parsed.data.n;
    }
  }

  /** Deletes the buckets that left the window, once per bucket (any process may). */
  async #sweep(now: number): Promise<void> {
    const before = bucketOf(now) - BUCKETS + 1;
    if (before <= this.#sweptBefore) return;
    this.#sweptBefore = before;
    const keys: Deno.KvKey[] = [];
    for await (const entry of this.#kv.list({ start: [...USED], end: [...USED, before] })) {
      keys.push(entry.key);
    }
    for (let i = 0; i < keys.length; i += BATCH_MUTATIONS) {
      const op = this.#kv.atomic();
      for (const key of keys.slice(i, i + BATCH_MUTATIONS)) op.delete(key);
      await retryKvBusy(() => op.commit());
    }
  }

  /** How old an in-flight count may be before it is taken for a dead process's. */
  #staleMs(): number {
    return Math.max(5_000, 5 * this.#intervalMs);
  }
}

/** `n` as a wrapping 64-bit sum adds it: a negative `n` gives back. */
function u64(n: number): Deno.KvU64 {
  const big = BigInt(Math.round(n));
  return new Deno.KvU64(big < 0n ? U64 + big : big);
}

/** A wrapped counter's value; never below zero (a correction is never written before its charge). */
function signed(value: Deno.KvU64): number {
  const n = value.value >= U64 >> 1n ? Number(value.value - U64) : Number(value.value);
  return n > 0 ? n : 0;
}

function isKind(kind: unknown): kind is ScopeKind {
  return kind === "client" || kind === "model";
}

/**
 * A sliding minute in 5-second buckets: what one scope (a client, a model) used of one metric
 * (requests, tokens), as every gateway process on the store reported it at the last sync plus
 * what this process added since.
 */

/** Length of one bucket, in ms. */
export const BUCKET_MS = 5_000;
/** Buckets in the window. */
export const BUCKETS = 12;
/** Length of the window, in ms: a limit per minute counts what this window holds. */
export const WINDOW_MS = BUCKET_MS * BUCKETS;

/** The bucket that time `ms` (since the epoch) falls in. */
export function bucketOf(ms: number): number {
  return Math.floor(ms / BUCKET_MS);
}

/** A delta of one bucket, taken by a sync. */
export type BucketDelta = [bucket: number, delta: number];

// One array per window, in four rows of BUCKETS slots: the bucket a slot holds, the total at the
// last sync (this process's synced deltas in it), deltas a sync took and has not read back yet,
// and deltas since.
const BUCKET = 0;
const GLOBAL = BUCKETS;
const SYNCING = 2 * BUCKETS;
const PENDING = 3 * BUCKETS;

/**
 * The counts of one metric of one scope over the last {@linkcode WINDOW_MS}. A bucket leaves the
 * window as a whole: what it holds stops counting at the start of the bucket {@linkcode BUCKETS}
 * after it. Every method takes the time, so the window is a plain value under test.
 */
export class SlidingWindow {
  readonly #slots = new Float64Array(4 * BUCKETS).fill(-1, BUCKET, GLOBAL);

  /** What the window holds at `now`: synced totals, deltas on their way and deltas since. */
  used(now: number): number {
    const first = bucketOf(now) - BUCKETS;
    const s = this.#slots;
    let sum = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if (s[BUCKET + i]! > first) sum += s[GLOBAL + i]! + s[SYNCING + i]! + s[PENDING + i]!;
    }
    return sum > 0 ? sum : 0;
  }

  /**
   * Adds `n` (negative to give back) to `bucket`; false, and nothing added, when `bucket` is
   * outside the window at `now`.
   */
  add(bucket: number, n: number, now: number): boolean {
    const slot = this.#slot(bucket, bucketOf(now));
    if (slot < 0) return false;
    this.#slots[PENDING + slot]! += n;
    return true;
  }

  /**
   * Takes the deltas since the last take for a sync to write, oldest bucket first; those of
   * buckets that left the window at `now` are dropped. They still count until
   * {@linkcode synced} or {@linkcode restore}.
   */
  take(now: number): BucketDelta[] {
    const first = bucketOf(now) - BUCKETS;
    const s = this.#slots;
    const taken: BucketDelta[] = [];
    for (let i = 0; i < BUCKETS; i++) {
      const delta = s[PENDING + i]!;
      if (delta === 0) continue;
      s[PENDING + i] = 0;
      if (s[BUCKET + i]! <= first) continue;
      taken.push([s[BUCKET + i]!, delta]);
      s[SYNCING + i]! += delta;
    }
    return taken.sort((a, b) => a[0] - b[0]);
  }

  /** Puts back what the last take took, when its write failed: the next sync writes it. */
  restore(): void {
    const s = this.#slots;
    for (let i = 0; i < BUCKETS; i++) {
      s[PENDING + i]! += s[SYNCING + i]!;
      s[SYNCING + i] = 0;
    }
  }

  /**
   * Marks what the last take took as written: it counts in the totals until a read of KV
   * replaces them ({@linkcode resetTotals} and {@linkcode setTotal}).
   */
  synced(): void {
    const s = this.#slots;
    for (let i = 0; i < BUCKETS; i++) {
      s[GLOBAL + i]! += s[SYNCING + i]!;
      s[SYNCING + i] = 0;
    }
  }

  /** Forgets the totals, before the totals of a fresh read of KV are set. */
  resetTotals(): void {
    this.#slots.fill(0, GLOBAL, SYNCING);
  }

  /** Sets the total every process wrote for `bucket`, as read from KV; ignored outside the window. */
  setTotal(bucket: number, total: number, now: number): void {
    const slot = this.#slot(bucket, bucketOf(now));
    if (slot >= 0) this.#slots[GLOBAL + slot] = total;
  }

  /** Whether nothing counts at `now` and nothing waits to be written: the window may be dropped. */
  idle(now: number): boolean {
    const first = bucketOf(now) - BUCKETS;
    const s = this.#slots;
    for (let i = 0; i < BUCKETS; i++) {
      if (s[SYNCING + i] !== 0 || (s[PENDING + i] !== 0 && s[BUCKET + i]! > first)) return false;
      if (s[BUCKET + i]! > first && s[GLOBAL + i] !== 0) return false;
    }
    return true;
  }

  /**
   * Ms from `now` until `need` more fits under `limit` if nothing else is added: 0 when it fits
   * now, Infinity when `need` alone is over `limit`.
   */
  waitMs(need: number, limit: number, now: number): number {
    if (need > limit) return Infinity;
    let over = this.used(now) + need - limit;
    if (over <= 0) return 0;
    const current = bucketOf(now);
    for (let bucket = current - BUCKETS + 1; bucket <= current; bucket++) {
      over -= this.#count(bucket, current);
      if (over <= 0) return (bucket + BUCKETS) * BUCKET_MS - now;
    }
    return (current + BUCKETS) * BUCKET_MS - now;
  }

  /** Ms from `now` until the window is empty if nothing else is added: 0 when it is. */
  resetMs(now: number): number {
    const current = bucketOf(now);
    for (let bucket = current; bucket > current - BUCKETS; bucket--) {
      if (this.#count(bucket, current) > 0) return (bucket + BUCKETS) * BUCKET_MS - now;
    }
    return 0;
  }

  #count(bucket: number, current: number): number {
    const i = bucket % BUCKETS;
    const s = this.#slots;
    if (s[BUCKET + i] !== bucket || bucket <= current - BUCKETS) return 0;
    return s[GLOBAL + i]! + s[SYNCING + i]! + s[PENDING + i]!;
  }

  /** The slot of `bucket`, emptied first when it held an older one; -1 outside the window. */
  #slot(bucket: number, current: number): number {
    if (bucket > current || bucket <= current - BUCKETS) return -1;
    const i = bucket % BUCKETS;
    const s = this.#slots;
    if (s[BUCKET + i] !== bucket) {
      s[BUCKET + i] = bucket;
      s[GLOBAL + i] = 0;
      s[SYNCING + i] = 0;
      s[PENDING + i] = 0;
    }
    return i;
  }
}

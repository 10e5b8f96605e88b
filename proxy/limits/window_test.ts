import { deepStrictEqual as assertEquals } from "node:assert/strict";
import fc from "fast-check";
import { BUCKET_MS, bucketOf, BUCKETS, SlidingWindow, WINDOW_MS } from "./window.ts";

// A time in the middle of some bucket, far from the epoch as real clocks are.
const T0 = 1_700_000_000_000 + 1_000;

Deno.test("used() counts what was added in the last minute, and a bucket leaves it whole", () => {
  const window = new SlidingWindow();
  window.add(bucketOf(T0), 3, T0);
  window.add(bucketOf(T0 + 7_000), 2, T0 + 7_000);
  assertEquals(window.used(T0 + 7_000), 5);
  // T0's bucket stops counting at the start of the bucket BUCKETS after it.
  const leaves = (bucketOf(T0) + BUCKETS) * BUCKET_MS;
  assertEquals(window.used(leaves - 1), 5);
  assertEquals(window.used(leaves), 2);
  assertEquals(window.used(T0 + 7_000 + WINDOW_MS), 0);
});

Deno.test("add() refuses a bucket outside the window and a slot is emptied when reused", () => {
  const window = new SlidingWindow();
  assertEquals(window.add(bucketOf(T0) + 1, 1, T0), false);
  assertEquals(window.add(bucketOf(T0) - BUCKETS, 1, T0), false);
  assertEquals(window.add(bucketOf(T0), 4, T0), true);
  const later = T0 + WINDOW_MS;
  assertEquals(window.add(bucketOf(later), 1, later), true);
  assertEquals(window.used(later), 1);
});

Deno.test("waitMs() is the time until enough old buckets leave for the need to fit", () => {
  const window = new SlidingWindow();
  window.add(bucketOf(T0), 2, T0);
  const t1 = T0 + 10_000;
  window.add(bucketOf(t1), 1, t1);
  assertEquals(window.waitMs(1, 4, t1), 0);
  // 3 used of 3: one more fits when T0's bucket leaves.
  assertEquals(window.waitMs(1, 3, t1), (bucketOf(T0) + BUCKETS) * BUCKET_MS - t1);
  // 3 more need both buckets gone.
  assertEquals(window.waitMs(3, 3, t1), (bucketOf(t1) + BUCKETS) * BUCKET_MS - t1);
  assertEquals(window.waitMs(4, 3, t1), Infinity);
});

Deno.test("resetMs() is the time until the newest count leaves, 0 when empty", () => {
  const window = new SlidingWindow();
  assertEquals(window.resetMs(T0), 0);
  window.add(bucketOf(T0), 1, T0);
  const t1 = T0 + 20_000;
  window.add(bucketOf(t1), 1, t1);
  assertEquals(window.resetMs(t1), (bucketOf(t1) + BUCKETS) * BUCKET_MS - t1);
});

Deno.test("take() hands the deltas to a sync; they count until synced or restored", () => {
  const window = new SlidingWindow();
  const b = bucketOf(T0);
  window.add(b, 5, T0);
  window.add(b - 1, 2, T0);
  assertEquals(window.take(T0), [[b - 1, 2], [b, 5]]);
  assertEquals(window.used(T0), 7);
  assertEquals(window.take(T0), []);
  // The write failed: the next take writes the same deltas again.
  window.restore();
  assertEquals(window.take(T0), [[b - 1, 2], [b, 5]]);
  window.synced();
  assertEquals(window.used(T0), 7);
  // The read after the write replaces the totals: what every process wrote for each bucket.
  window.resetTotals();
  window.setTotal(b, 9, T0);
  window.add(b, 1, T0);
  assertEquals(window.used(T0), 10);
  assertEquals(window.take(T0), [[b, 1]]);
});

Deno.test("idle() holds while something counts or waits to be written", () => {
  const window = new SlidingWindow();
  assertEquals(window.idle(T0), true);
  window.add(bucketOf(T0), 1, T0);
  assertEquals(window.idle(T0), false);
  window.take(T0);
  window.synced();
  assertEquals(window.idle(T0), false);
  assertEquals(window.idle(T0 + WINDOW_MS), true);
});

Deno.test("property: after waitMs() the need fits, and just before it does not", () => {
  fc.assert(fc.property(
    fc.array(fc.tuple(fc.nat(WINDOW_MS - 1), fc.integer({ min: 1, max: 20 })), { maxLength: 30 }),
    fc.integer({ min: 1, max: 100 }),
    fc.integer({ min: 1, max: 20 }),
    (adds, limit, need) => {
      const window = new SlidingWindow();
      let now = T0;
      for (const [dt, n] of adds.toSorted((a, b) => a[0] - b[0])) {
        now = T0 + dt;
        window.add(bucketOf(now), n, now);
      }
      const wait = window.waitMs(need, limit, now);
      if (need > limit) return wait === Infinity;
      const fitsAt = (t: number) => window.used(t) + need <= limit;
      return fitsAt(now + wait) && (wait === 0 || !fitsAt(now + wait - 1));
    },
  ));
});

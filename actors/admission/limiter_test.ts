import * as assert from "node:assert/strict";
import { ConcurrencyLimiter, type LatencySample, workTokens } from "./limiter.ts";

const WORK = workTokens(15_000);

/**
 * A replica whose time to first token is `baseMs` plus `queueMs` for every request in flight past
 * `knee`: the limiter is fed what it would see with its limit fully used.
 */
function feed(
  limiter: ConcurrencyLimiter,
  samples: number,
  latencyAt: (inFlight: number) => number,
  scrape: { replicaQueueing?: boolean } = {},
): void {
  for (let i = 0; i < samples; i++) {
    const inFlight = limiter.limit;
    limiter.observe({ kind: "ttft", ms: latencyAt(inFlight), work: WORK, inFlight, ...scrape });
  }
}

/** 60 ms alone, and each request past 4 in flight queues 60 ms more inside the replica. */
function queueingPast4(inFlight: number): number {
  return 60 + 60 * Math.max(0, inFlight - 4);
}

Deno.test("ConcurrencyLimiter starts at 8 under a higher ceiling, and at the ceiling under a lower one", () => {
  assert.equal(new ConcurrencyLimiter({ floor: 2, ceiling: 256, tolerance: 2 }).limit, 8);
  assert.equal(new ConcurrencyLimiter({ floor: 2, ceiling: 6, tolerance: 2 }).limit, 6);
  assert.equal(new ConcurrencyLimiter({ floor: 2, ceiling: 6, tolerance: 2 }).noLoadMs, undefined);
});

Deno.test("ConcurrencyLimiter goes down under queueing latency, to where latency is within tolerance", () => {
  const limiter = new ConcurrencyLimiter({ floor: 2, ceiling: 256, tolerance: 2 });
  // The baseline is learned alone first.
  limiter.observe({ kind: "ttft", ms: 60, work: WORK, inFlight: 1 });
  feed(limiter, 400, queueingPast4);
  // Latency within 2x of 60 ms means at most 5 in flight; the limit hovers there.
  assert.ok(limiter.limit >= 4 && limiter.limit <= 6, `limit ${limiter.limit}`);
  assert.ok(Math.abs(limiter.noLoadMs! - 60) < 1, `no-load ${limiter.noLoadMs}`);
});

Deno.test("ConcurrencyLimiter goes up again once latency is back at its baseline", () => {
  const limiter = new ConcurrencyLimiter({ floor: 2, ceiling: 256, tolerance: 2 });
  limiter.observe({ kind: "ttft", ms: 60, work: WORK, inFlight: 1 });
  feed(limiter, 400, queueingPast4);
  const low = limiter.limit;
  feed(limiter, 400, () => 60);
  assert.ok(limiter.limit > low + 20, `limit ${low} -> ${limiter.limit}`);
});

Deno.test("ConcurrencyLimiter keeps to its floor and its ceiling", () => {
  const floored = new ConcurrencyLimiter({ floor: 3, ceiling: 64, tolerance: 2 });
  floored.observe({ kind: "ttft", ms: 50, work: WORK, inFlight: 1 });
  feed(floored, 500, (inFlight) => 50 + 5_000 * (inFlight - 1));
  assert.equal(floored.limit, 3);
  const capped = new ConcurrencyLimiter({ floor: 3, ceiling: 24, tolerance: 2 });
  feed(capped, 2_000, () => 50);
  assert.equal(capped.limit, 24);
});

Deno.test("ConcurrencyLimiter does not grow a limit that is not in use", () => {
  const limiter = new ConcurrencyLimiter({ floor: 2, ceiling: 256, tolerance: 2 });
  for (let i = 0; i < 500; i++) {
    limiter.observe({ kind: "ttft", ms: 50, work: WORK, inFlight: 3 });
  }
  assert.equal(limiter.limit, 8);
});

Deno.test("ConcurrencyLimiter measures latency per unit of work, so long prompts alone are not queueing", () => {
  const limiter = new ConcurrencyLimiter({ floor: 2, ceiling: 256, tolerance: 2 });
  // Prefill of ~0.04 ms a token: 100-token prompts take 25 ms, 30k-token ones 1.2 s, both alone.
  for (let i = 0; i < 3_000; i++) {
    const long = i % 2 === 0;
    const prompt = long ? 30_000 : 100;
    limiter.observe({
      kind: "ttft",
      ms: 0.04 * workTokens(prompt),
      work: workTokens(prompt),
      inFlight: limiter.limit,
    });
  }
  assert.equal(limiter.limit, 256);
});

Deno.test("ConcurrencyLimiter learns no-load latency from whole answers when no stream came", () => {
  const limiter = new ConcurrencyLimiter({ floor: 2, ceiling: 256, tolerance: 2 });
  const sample: LatencySample = {
    kind: "total",
    ms: 900,
    work: workTokens(1_000, 64),
    inFlight: 1,
  };
  limiter.observe(sample);
  assert.equal(limiter.noLoadMs, 900);
  limiter.observe({ kind: "ttft", ms: 40, work: workTokens(1_000), inFlight: 1 });
  assert.equal(limiter.noLoadMs, 40);
});

Deno.test("ConcurrencyLimiter baseline does not rise with slow samples under load, only with ones sent alone", () => {
  const limiter = new ConcurrencyLimiter({ floor: 2, ceiling: 256, tolerance: 2 });
  limiter.observe({ kind: "ttft", ms: 60, work: WORK, inFlight: 1 });
  for (let i = 0; i < 200; i++) {
    limiter.observe({ kind: "ttft", ms: 600, work: WORK, inFlight: 12 });
  }
  assert.ok(Math.abs(limiter.noLoadMs! - 60) < 1e-9, `no-load ${limiter.noLoadMs}`);
  for (let i = 0; i < 400; i++) {
    limiter.observe({ kind: "ttft", ms: 120, work: WORK, inFlight: 1 });
  }
  assert.ok(limiter.noLoadMs! > 115, `no-load ${limiter.noLoadMs}`);
});

Deno.test("ConcurrencyLimiter is deterministic: the same samples give the same limits", () => {
  const run = () => {
    const limiter = new ConcurrencyLimiter({ floor: 2, ceiling: 128, tolerance: 1.5 });
    const limits: number[] = [];
    for (let i = 0; i < 300; i++) {
      const inFlight = limiter.limit;
      limiter.observe({
        kind: "ttft",
        ms: 40 + 17 * ((i * 7) % 11) * inFlight,
        work: WORK,
        inFlight,
      });
      limits.push(limiter.limit);
    }
    return limits;
  };
  assert.deepEqual(run(), run());
});

Deno.test("ConcurrencyLimiter slow-starts: with latency at its baseline it grows by one a sample until latency first passes tolerance, then by 1/sqrt(limit)", () => {
  const limiter = new ConcurrencyLimiter({ floor: 2, ceiling: 256, tolerance: 2 });
  limiter.observe({ kind: "ttft", ms: 60, work: WORK, inFlight: 1 });
  // A gateway (re)started under heavy load: 8 -> 256 within some 250 samples, not thousands.
  feed(limiter, 248, () => 60);
  assert.equal(limiter.limit, 256);
  const congested = new ConcurrencyLimiter({ floor: 2, ceiling: 256, tolerance: 2 });
  congested.observe({ kind: "ttft", ms: 60, work: WORK, inFlight: 1 });
  feed(congested, 400, queueingPast4);
  const low = congested.limit;
  // Once it has seen queueing, the same 248 good samples raise it far less.
  feed(congested, 248, () => 60);
  assert.ok(congested.limit < low + 100 && congested.limit > low, `${low} -> ${congested.limit}`);
});

Deno.test("ConcurrencyLimiter takes a few ms over a sub-millisecond baseline for the host's CPU, not queueing, when minQueueingMs says so", () => {
  const strict = new ConcurrencyLimiter({ floor: 2, ceiling: 256, tolerance: 2.5 });
  const floored = new ConcurrencyLimiter({
    floor: 2,
    ceiling: 256,
    tolerance: 2.5,
    minQueueingMs: 20,
  });
  for (const limiter of [strict, floored]) {
    limiter.observe({ kind: "ttft", ms: 0.3, work: WORK, inFlight: 1 });
    // A zero-latency backend behind a busy 2-core host: 5 ms, 16 times the baseline.
    feed(limiter, 300, () => 5);
  }
  assert.equal(strict.limit, 2);
  assert.equal(floored.limit, 256);
  // Real queueing (60 ms and more past the baseline) still brings it down.
  feed(floored, 600, (inFlight) => 0.3 + 60 * Math.max(0, inFlight - 4));
  assert.ok(floored.limit <= 8, `limit ${floored.limit}`);
});

Deno.test("ConcurrencyLimiter does not come down while the replica's scrape shows nothing waiting", () => {
  const idle = new ConcurrencyLimiter({ floor: 2, ceiling: 256, tolerance: 2 });
  idle.observe({ kind: "ttft", ms: 60, work: WORK, inFlight: 1 });
  feed(idle, 400, queueingPast4, { replicaQueueing: false });
  assert.ok(idle.limit > 100, `limit ${idle.limit}`);
  // The same latency while the replica reports requests waiting: it comes down.
  feed(idle, 400, queueingPast4, { replicaQueueing: true });
  assert.ok(idle.limit <= 8, `limit ${idle.limit}`);
});

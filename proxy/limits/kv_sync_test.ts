import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { join } from "node:path";
import { CounterSync } from "./kv_sync.ts";
import { type Demand, RateLimiter } from "./limiter.ts";
import { BUCKET_MS, BUCKETS } from "./window.ts";

const T0 = 1_700_000_000_000 + 1_000;

/** A gateway process's limiter and its sync, on its own handle of one KV file. */
interface Process {
  limiter: RateLimiter;
  sync: CounterSync;
  kv: Deno.Kv;
}

/** Two processes on one temp KV file with one clock; everything is closed and removed after. */
async function withTwo(
  body: (a: Process, b: Process, clock: { now: number }) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-limits-" });
  const clock = { now: T0 };
  const open: Process[] = [];
  try {
    for (const node of ["a", "b"]) {
      const kv = await Deno.openKv(join(dir, "kv.sqlite3"));
      const limiter = new RateLimiter({ now: () => clock.now });
      const sync = new CounterSync(kv, limiter, { nodeId: node, now: () => clock.now });
      open.push({ limiter, sync, kv });
    }
    await body(open[0]!, open[1]!, clock);
  } finally {
    for (const p of open) {
      await p.sync.close();
      p.kv.close();
    }
    await Deno.remove(dir, { recursive: true });
  }
}

function demand(extra: Partial<Demand>): Demand {
  return {
    clientId: "alice",
    clientLimits: {},
    model: "m",
    modelLimits: undefined,
    tokens: 1,
    ...extra,
  };
}

Deno.test("two processes enforce one requests_per_minute once they synced", async () => {
  await withTwo(async (a, b) => {
    const limits = { clientLimits: { requestsPerMinute: 5 } };
    for (let i = 0; i < 3; i++) assert(a.limiter.admit(demand(limits)).ok);
    await a.sync.sync();
    await b.sync.sync();
    assert(b.limiter.admit(demand(limits)).ok);
    assert(b.limiter.admit(demand(limits)).ok);
    const refused = b.limiter.admit(demand(limits));
    assert(!refused.ok);
    assertEquals(refused.kind, "requests");
    // And A learns of B's two.
    await b.sync.sync();
    await a.sync.sync();
    assert(!a.limiter.admit(demand(limits)).ok);
  });
});

Deno.test("a token correction reaches the other process through KV", async () => {
  await withTwo(async (a, b) => {
    const limits = { clientLimits: { tokensPerMinute: 100 } };
    const admitted = a.limiter.admit(demand({ ...limits, tokens: 60 }));
    assert(admitted.ok);
    await a.sync.sync();
    await b.sync.sync();
    assert(!b.limiter.admit(demand({ ...limits, tokens: 50 })).ok);
    admitted.ticket.finish(20);
    await a.sync.sync();
    await b.sync.sync();
    const after = b.limiter.admit(demand({ ...limits, tokens: 50 }));
    assert(after.ok);
    assertEquals(
      after.headers.find(([n]) => n === "x-ratelimit-remaining-tokens")?.[1],
      "30",
    );
  });
});

Deno.test("max_concurrent counts the other process's requests in flight, until they end", async () => {
  await withTwo(async (a, b) => {
    const limits = { clientLimits: { maxConcurrent: 2 } };
    const held = a.limiter.admit(demand(limits));
    assert(held.ok);
    await a.sync.sync();
    await b.sync.sync();
    assert(b.limiter.admit(demand(limits)).ok);
    const refused = b.limiter.admit(demand(limits));
    assert(!refused.ok);
    assertEquals(refused.kind, "concurrency");
    held.ticket.finish(1);
    await a.sync.sync();
    await b.sync.sync();
    assert(b.limiter.admit(demand(limits)).ok);
  });
});

Deno.test("a process that stops writing its in-flight count is no longer counted", async () => {
  await withTwo(async (a, b, clock) => {
    const limits = { clientLimits: { maxConcurrent: 1 } };
    assert(a.limiter.admit(demand(limits)).ok);
    await a.sync.sync();
    await b.sync.sync();
    assert(!b.limiter.admit(demand(limits)).ok);
    // A is gone (killed): its count, 6 s old, is stale.
    clock.now += 6_000;
    await b.sync.sync();
    assert(b.limiter.admit(demand(limits)).ok);
  });
});

Deno.test("buckets that left the window are deleted from KV", async () => {
  await withTwo(async (a, _b, clock) => {
    const admitted = a.limiter.admit(demand({ clientLimits: { requestsPerMinute: 5 } }));
    assert(admitted.ok);
    admitted.ticket.finish(1);
    await a.sync.sync();
    const count = async () =>
      (await Array.fromAsync(a.kv.list({ prefix: ["limits", "used"] })))
        .length;
    assertEquals(await count(), 2);
    clock.now += (BUCKETS + 1) * BUCKET_MS;
    await a.sync.sync();
    assertEquals(await count(), 0);
    assertEquals(a.limiter.clients.size, 0);
  });
});

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import type { PrincipalLimits } from "../auth/principal.ts";
import { type Admission, type Demand, RateLimiter } from "./limiter.ts";
import { BUCKET_MS, bucketOf, BUCKETS } from "./window.ts";

const T0 = 1_700_000_000_000 + 1_000;

function rig(start = T0) {
  const clock = { now: start };
  const limiter = new RateLimiter({ now: () => clock.now });
  const demand = (clientLimits: PrincipalLimits, extra: Partial<Demand> = {}): Demand => ({
    clientId: "alice",
    clientLimits,
    model: "m",
    modelLimits: undefined,
    tokens: 10,
    ...extra,
  });
  return { clock, limiter, demand };
}

function header(admission: Admission, name: string): string | undefined {
  return admission.headers.find(([n]) => n === name)?.[1];
}

Deno.test("admit() lets requests_per_minute through, then refuses with a wait until one leaves", () => {
  const { clock, limiter, demand } = rig();
  const limits = { requestsPerMinute: 2 };
  const first = limiter.admit(demand(limits));
  assert(first.ok);
  assertEquals(header(first, "x-ratelimit-remaining-requests"), "1");
  assertEquals(header(first, "x-ratelimit-limit-requests"), "2");
  assertEquals(header(first, "x-ratelimit-reset-tokens"), undefined);
  clock.now += 10_000;
  assert(limiter.admit(demand(limits)).ok);
  const refused = limiter.admit(demand(limits));
  assert(!refused.ok);
  assertEquals(refused.kind, "requests");
  assertEquals(header(refused, "x-ratelimit-remaining-requests"), "0");
  const leaves = (bucketOf(T0) + BUCKETS) * BUCKET_MS;
  assertEquals(refused.retryAfterS, Math.ceil((leaves - clock.now) / 1000));
  assert(refused.message.includes('client "alice" on requests per minute: limit 2, used 2'));
  // A refused request counts nowhere: once the first leaves, exactly one fits again.
  clock.now = leaves;
  assert(limiter.admit(demand(limits)).ok);
  assert(!limiter.admit(demand(limits)).ok);
});

Deno.test("admit() charges tokens, and finish() corrects them to the real usage", () => {
  const { limiter, demand } = rig();
  const limits = { tokensPerMinute: 100 };
  const a = limiter.admit(demand(limits, { tokens: 60 }));
  assert(a.ok);
  assertEquals(header(a, "x-ratelimit-remaining-tokens"), "40");
  const over = limiter.admit(demand(limits, { tokens: 50 }));
  assert(!over.ok);
  assertEquals(over.kind, "tokens");
  // It used 20, not the 60 charged: 80 are left.
  a.ticket.finish(20);
  a.ticket.finish(0);
  const b = limiter.admit(demand(limits, { tokens: 50 }));
  assert(b.ok);
  assertEquals(header(b, "x-ratelimit-remaining-tokens"), "30");
});

Deno.test("admit() refuses a request larger than the whole token limit, saying what to lower", () => {
  const { limiter, demand } = rig();
  const refused = limiter.admit(demand({ tokensPerMinute: 100 }, { tokens: 101 }));
  assert(!refused.ok);
  assertEquals(refused.kind, "tokens");
  assert(refused.message.startsWith('Request too large for client "alice"'), refused.message);
  assertEquals(refused.retryAfterS, 60);
});

Deno.test("admit() caps requests in flight until a ticket is finished", () => {
  const { limiter, demand } = rig();
  const limits = { maxConcurrent: 1 };
  const a = limiter.admit(demand(limits));
  assert(a.ok);
  const b = limiter.admit(demand(limits));
  assert(!b.ok);
  assertEquals([b.kind, b.retryAfterS], ["concurrency", 1]);
  // Another client has its own slots.
  assert(limiter.admit(demand(limits, { clientId: "bob" })).ok);
  a.ticket.finish(10);
  assert(limiter.admit(demand(limits)).ok);
});

Deno.test("admit() applies a model's limit over all its clients and reports the tighter one", () => {
  const { limiter, demand } = rig();
  const model = { requestsPerMinute: 2 };
  const client = { requestsPerMinute: 10 };
  const a = limiter.admit(demand(client, { modelLimits: model }));
  assert(a.ok);
  assertEquals(header(a, "x-ratelimit-limit-requests"), "2");
  assert(limiter.admit(demand({}, { clientId: "bob", modelLimits: model })).ok);
  const refused = limiter.admit(demand(client, { clientId: "carol", modelLimits: model }));
  assert(!refused.ok);
  assert(refused.message.includes('model "m"'), refused.message);
  // Another model is not limited by it.
  assert(limiter.admit(demand(client, { model: "other" })).ok);
});

Deno.test("evictIdle() drops scopes once nothing counts in them", () => {
  const { clock, limiter, demand } = rig();
  const a = limiter.admit(demand({ requestsPerMinute: 5 }));
  assert(a.ok);
  a.ticket.finish(10);
  limiter.evictIdle(clock.now);
  assertEquals(limiter.clients.size, 1);
  // Nothing was synced (no KV): the deltas are still pending, and once out of the window, idle.
  clock.now += BUCKETS * BUCKET_MS + BUCKET_MS;
  limiter.evictIdle(clock.now);
  assertEquals(limiter.clients.size, 0);
});

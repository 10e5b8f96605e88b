import * as assert from "node:assert/strict";
import type { PriorityClass } from "../../proxy/auth/principal.ts";
import type { BackendView, ModelRouter } from "../router/mod.ts";
import { request, routerOver } from "./_testing.ts";
import { AttainedService } from "./attained.ts";
import { AdmissionGate, type AdmissionGateOptions, type WaitResult } from "./gate.ts";
import { AdmissionTicket } from "./ticket.ts";

/** A gate over `router` on a clock the test moves, and a ticket maker. */
function setup(router: ModelRouter, options: Partial<AdmissionGateOptions> = {}) {
  const clock = { now: 0 };
  const now = () => clock.now;
  const attained = new AttainedService({ now });
  const gate = new AdmissionGate(router, {
    capacity: { maxInFlight: 1, kvFraction: 1, outputTokensEstimate: 100 },
    maxQueue: 10,
    weights: { high: 8, medium: 4, low: 1 },
    shedEarly: true,
    now,
    sweepMs: 60_000,
    ...options,
  });
  const ticket = (serviceKey?: string, tokens = 200) =>
    new AdmissionTicket(gate, router, { tokens, serviceKey, attained, now });
  return { clock, gate, attained, ticket };
}

/** Sends a request through `ticket` as the hot path does: pick, else wait; then acquire. */
function waitFor(
  gate: AdmissionGate,
  ticket: AdmissionTicket,
  options: {
    priority?: PriorityClass;
    rank?: number;
    arrivedAt?: number;
    deadlineAt?: number;
    signal?: AbortSignal;
  },
): Promise<WaitResult> | WaitResult {
  const features = request();
  features.kvTokens = ticket.tokens;
  return gate.wait({
    features,
    exclude: new Set(),
    priority: options.priority ?? "medium",
    rank: options.rank ?? 0,
    arrivedAt: options.arrivedAt ?? 0,
    deadlineAt: options.deadlineAt ?? 1e9,
    signal: options.signal ?? new AbortController().signal,
    reserve: (backend) => ticket.reserve(backend),
  });
}

function take(ticket: AdmissionTicket, kvTokens = ticket.tokens): BackendView | undefined {
  const features = request();
  features.kvTokens = kvTokens;
  const backend = ticket.pick(features);
  if (backend) ticket.acquire(backend);
  return backend;
}

Deno.test("pick() offers only backends under their request cap", () => {
  const router = routerOver(["a", "b"]);
  const { gate, ticket } = setup(router, {
    capacity: { maxInFlight: 2, kvFraction: 1, outputTokensEstimate: 100 },
  });
  const got = [take(ticket()), take(ticket()), take(ticket()), take(ticket())].map((b) => b?.id);
  assert.deepEqual(got.sort(), ["a", "a", "b", "b"]);
  assert.equal(take(ticket()), undefined);
  gate.close();
});

Deno.test("pick() keeps the estimated KV tokens in flight under the replica's scraped capacity", () => {
  const load = { running: 0, waiting: 0, kvUsage: 0, scrapedAtMs: 0, kvCapacityTokens: 1000 };
  const router = routerOver(["a"], load);
  const { gate, ticket } = setup(router, {
    capacity: { maxInFlight: 100, kvFraction: 0.5, outputTokensEstimate: 100 },
  });
  const first = ticket(undefined, 300);
  assert.equal(take(first)?.id, "a");
  assert.equal(take(ticket(undefined, 300)), undefined, "300 + 300 > 500 tokens");
  assert.equal(take(ticket(undefined, 200))?.id, "a");
  assert.equal(gate.tokensOn("a"), 500);
  first.release(router.get("a")!.view);
  assert.equal(gate.tokensOn("a"), 200);
  // One request bigger than the whole cap may still run alone.
  const router2 = routerOver(["b"], load);
  const { gate: gate2, ticket: ticket2 } = setup(router2);
  assert.equal(take(ticket2(undefined, 5000))?.id, "b");
  gate.close();
  gate2.close();
});

Deno.test("a released slot goes to the waiter at once, counted before it resumes", async () => {
  const router = routerOver(["a"]);
  const { gate, ticket } = setup(router);
  const running = ticket();
  const a = take(running)!;
  const waiter = ticket();
  const waited = waitFor(gate, waiter, {});
  assert.ok(waited instanceof Promise);
  assert.equal(gate.waiting, 1);
  running.release(a);
  assert.equal(gate.waiting, 0);
  assert.equal(a.inFlight, 1, "the slot is reserved for the waiter synchronously");
  // A newcomer in between finds no room.
  assert.equal(take(ticket()), undefined);
  const result = await waited;
  assert.equal(result.kind, "admitted");
  if (result.kind !== "admitted") return;
  waiter.acquire(result.backend);
  assert.equal(a.inFlight, 1, "acquiring the reserved slot does not count it twice");
  waiter.release(result.backend);
  assert.equal(a.inFlight, 0);
  assert.equal(gate.stats.admittedAfterWait, 1);
  gate.close();
});

Deno.test("while requests wait a newcomer does not overtake them, even when a slot is free", () => {
  const load = { running: 0, waiting: 0, kvUsage: 0, scrapedAtMs: 0, kvCapacityTokens: 1000 };
  const kvRouter = routerOver(["k"], load);
  const kv = setup(kvRouter, {
    capacity: { maxInFlight: 10, kvFraction: 1, outputTokensEstimate: 100 },
  });
  take(kv.ticket(undefined, 600));
  // A big request waits for KV to free; a small one arriving after it must wait behind it.
  const big = waitFor(kv.gate, kv.ticket(undefined, 600), {});
  assert.ok(big instanceof Promise);
  assert.equal(take(kv.ticket(undefined, 100)), undefined);
  kv.gate.close();
});

Deno.test("waiters are served by class: high before low, and low still gets its weighted turns", async () => {
  const router = routerOver(["a"]);
  const { gate, ticket } = setup(router, { maxQueue: 20 });
  const order: string[] = [];
  let holder = ticket();
  let slot = take(holder)!;
  const waits: Promise<unknown>[] = [];
  const enqueue = (priority: PriorityClass, name: string) => {
    const t = ticket();
    const p = waitFor(gate, t, { priority }) as Promise<WaitResult>;
    waits.push(p.then((r) => {
      if (r.kind === "admitted") order.push(name);
    }));
    return t;
  };
  const tickets = new Map<string, AdmissionTicket>();
  for (let i = 0; i < 3; i++) tickets.set(`low${i}`, enqueue("low", `low${i}`));
  for (let i = 0; i < 12; i++) tickets.set(`high${i}`, enqueue("high", `high${i}`));
  for (let served = 0; served < 15; served++) {
    holder.release(slot);
    await Promise.resolve();
    await Promise.resolve();
    const name = order.at(-1)!;
    holder = tickets.get(name)!;
    slot = router.get("a")!.view;
  }
  await Promise.all(waits);
  // Stride 8:1 — the first low comes after about eight highs, not after all twelve.
  const firstLow = order.findIndex((n) => n.startsWith("low"));
  assert.ok(firstLow >= 1 && firstLow <= 9, order.join(","));
  assert.equal(order[0], "high0");
  assert.ok(order.indexOf("low1") < order.indexOf("high11"), order.join(","));
  gate.close();
});

Deno.test("within a class the session with the least attained service goes first", async () => {
  const router = routerOver(["a"]);
  const { gate, ticket, attained, clock } = setup(router);
  attained.charge("heavy", 50_000);
  attained.charge("light", 100);
  const holder = ticket();
  const slot = take(holder)!;
  const heavy = waitFor(gate, ticket("heavy"), { rank: attained.of("heavy") }) as Promise<
    WaitResult
  >;
  const light = waitFor(gate, ticket("light"), { rank: attained.of("light") }) as Promise<
    WaitResult
  >;
  clock.now += 10;
  holder.release(slot);
  const first = await Promise.race([heavy.then(() => "heavy"), light.then(() => "light")]);
  assert.equal(first, "light");
  gate.close();
  await heavy;
});

Deno.test("a full queue refuses at once with 429 and a Retry-After", () => {
  const router = routerOver(["a"]);
  const { gate, ticket } = setup(router, { maxQueue: 2 });
  take(ticket());
  assert.ok(waitFor(gate, ticket(), {}) instanceof Promise);
  assert.ok(waitFor(gate, ticket(), {}) instanceof Promise);
  const refused = waitFor(gate, ticket(), {});
  assert.ok(!(refused instanceof Promise));
  assert.equal(refused.kind, "refused");
  if (refused.kind !== "refused") return;
  assert.equal(refused.status, 429);
  assert.equal(refused.code, "queue_full");
  assert.ok(refused.retryAfterS >= 1);
  assert.equal(gate.stats.queueFull, 1);
  gate.close();
});

Deno.test("a waiter whose signal fires (deadline, disconnect) leaves the queue at once and gets no slot", async () => {
  const router = routerOver(["a"]);
  const { gate, ticket } = setup(router);
  const holder = ticket();
  const slot = take(holder)!;
  const abort = new AbortController();
  const waited = waitFor(gate, ticket(), { signal: abort.signal }) as Promise<WaitResult>;
  const next = waitFor(gate, ticket(), {}) as Promise<WaitResult>;
  assert.equal(gate.waiting, 2);
  abort.abort("timeout");
  assert.equal(gate.waiting, 1);
  assert.equal((await waited).kind, "aborted");
  holder.release(slot);
  assert.equal((await next).kind, "admitted");
  assert.equal(gate.stats.abandoned, 1);
  gate.close();
});

Deno.test("a request whose expected wait passes its deadline is shed at once with 503", () => {
  const router = routerOver(["a", "b"]);
  const { gate, ticket, clock } = setup(router);
  // Teach the gate a service time: 1 s per request on each of two slots.
  const warm = ticket();
  const a = take(warm)!;
  clock.now += 1000;
  warm.release(a);
  take(ticket());
  take(ticket());
  assert.equal(gate.serviceMs, 1000);
  // Two slots at 1 s each: the 1st waiter expects ~0.5 s, the 10th ~5 s.
  for (let i = 0; i < 9; i++) {
    assert.ok(waitFor(gate, ticket(), { deadlineAt: clock.now + 20_000 }) instanceof Promise);
  }
  const shed = waitFor(gate, ticket(), { deadlineAt: clock.now + 4_000 });
  assert.ok(!(shed instanceof Promise), "refused without waiting");
  assert.equal(shed.kind, "refused");
  if (shed.kind !== "refused") return;
  assert.equal(shed.status, 503);
  assert.equal(shed.code, "overloaded");
  assert.ok(shed.retryAfterS >= 1);
  // The same wait with a longer deadline is queued.
  assert.ok(waitFor(gate, ticket(), { deadlineAt: clock.now + 20_000 }) instanceof Promise);
  gate.close();
});

Deno.test("without a known service time nothing is shed early", () => {
  const router = routerOver(["a"]);
  const { gate, ticket, clock } = setup(router);
  take(ticket());
  assert.ok(waitFor(gate, ticket(), { deadlineAt: clock.now + 1 }) instanceof Promise);
  gate.close();
});

Deno.test("a wait with no eligible backend left ends at once as none", () => {
  const router = routerOver([]);
  const { gate, ticket } = setup(router);
  assert.deepEqual(waitFor(gate, ticket(), {}), { kind: "none" });
  gate.close();
});

Deno.test("the sweep sheds waiters that can no longer make their deadline, and close() refuses the rest", async () => {
  const router = routerOver(["a"]);
  const { gate, ticket, clock } = setup(router, { sweepMs: 5 });
  const warm = ticket();
  const a = take(warm)!;
  clock.now += 1000;
  warm.release(a);
  take(ticket());
  const hopeless = waitFor(gate, ticket(), { deadlineAt: clock.now + 10_000 }) as Promise<
    WaitResult
  >;
  const patient = waitFor(gate, ticket(), { deadlineAt: clock.now + 100_000 }) as Promise<
    WaitResult
  >;
  clock.now += 9_000;
  const result = await hopeless;
  assert.equal(result.kind, "refused");
  assert.equal(gate.waiting, 1);
  gate.close();
  const closed = await patient;
  assert.equal(closed.kind, "refused");
  if (closed.kind === "refused") assert.equal(closed.status, 503);
});

Deno.test("with maxWaitMs a request expected to wait longer is shed even though its deadline is far", () => {
  const router = routerOver(["a"]);
  const { gate, ticket, clock } = setup(router, { maxWaitMs: 2_500 });
  const warm = ticket();
  const a = take(warm)!;
  clock.now += 1000;
  warm.release(a);
  take(ticket());
  // One slot at 1 s: the 1st and 2nd waiters expect 1 s and 2 s, the 3rd 3 s.
  const far = clock.now + 100_000;
  for (let i = 0; i < 2; i++) {
    const queued = waitFor(gate, ticket(), { arrivedAt: clock.now, deadlineAt: far });
    assert.ok(queued instanceof Promise);
  }
  const shed = waitFor(gate, ticket(), { arrivedAt: clock.now, deadlineAt: far });
  assert.ok(!(shed instanceof Promise) && shed.kind === "refused" && shed.status === 503);
  gate.close();
});

Deno.test("the adaptive wait bound is queueWaitFactor times the no-load TTFT, never under minQueueingMs", () => {
  const router = routerOver(["a"]);
  const view = router.list()[0]!.view;
  const bound = (minQueueingMs: number | undefined, ms: number) => {
    const { gate } = setup(router, {
      adaptive: {
        floor: 2,
        tolerance: 2.5,
        queueWaitFactor: 2,
        ...(minQueueingMs === undefined ? {} : { minQueueingMs }),
      },
    });
    assert.equal(gate.maxWaitMs(), Infinity, "a cold gate sheds none");
    for (let i = 0; i < 20; i++) gate.observe(view, { kind: "ttft", ms, work: 100, inFlight: 1 });
    return gate.maxWaitMs();
  };
  // A 1 ms replica: twice its no-load TTFT would shed at a 2 ms wait, gateway jitter alone.
  assert.equal(bound(20, 1), 20);
  assert.ok(Math.abs(bound(undefined, 1) - 2) < 0.5, `${bound(undefined, 1)}`);
  // A slow one is bounded by the factor alone.
  assert.ok(Math.abs(bound(20, 100) - 200) < 20, `${bound(20, 100)}`);
});

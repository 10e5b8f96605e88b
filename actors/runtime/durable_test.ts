import assert from "node:assert/strict";
import { z } from "zod";
import { ActorSystem, type Behavior } from "./mod.ts";
import { readSnapshot } from "./durable/snapshot.ts";
import { withKvPath } from "./testdata/temp_kv.ts";
import { waitFor } from "./testdata/wait.ts";

const CountState = z.object({ count: z.number(), ids: z.array(z.string()) });
type CountState = z.infer<typeof CountState>;
const CountMsg = z.discriminatedUnion("type", [
  z.object({ type: z.literal("add"), n: z.number() }),
  z.object({ type: z.literal("get") }),
]);
type CountMsg = z.infer<typeof CountMsg>;

const counter: Behavior<CountState, CountMsg> = {
  kind: "counter",
  init: () => ({ count: 0, ids: [] }),
  receive(s, m, ctx) {
    if (m.type === "get") {
      ctx.reply(s);
      return s;
    }
    return { count: s.count + m.n, ids: [...s.ids, ctx.messageId ?? "local"] };
  },
  persistence: { state: CountState, messages: CountMsg },
};

function withKv<T>(fn: (path: string) => Promise<T>): Promise<T> {
  return withKvPath("turnpike-actors-", fn);
}

async function countOf(system: ActorSystem, addr: string): Promise<CountState | undefined> {
  if (!system.has(addr)) return undefined;
  return await system.ref<CountMsg>(addr).ask<CountState>({ type: "get" });
}

Deno.test("a durable message delivered twice on purpose changes state once", async () => {
  await withKv(async (kvPath) => {
    const duplicates: string[] = [];
    const system = await ActorSystem.start({
      kvPath,
      behaviors: [counter],
      recoverySweepsMs: [],
      faults: { onDuplicate: (_addr, id) => void duplicates.push(id) },
    });
    try {
      for (const id of ["m1", "m2", "m3"]) {
        await system.tellDurable("counter/twice", { type: "add", n: 1 }, { id });
        await system.tellDurable("counter/twice", { type: "add", n: 1 }, { id });
      }
      await waitFor("both copies of every message", () => duplicates.length === 3);
      const state = await countOf(system, "counter/twice");
      assert.equal(state?.count, 3);
      assert.deepEqual(state?.ids.toSorted(), ["m1", "m2", "m3"]);
      assert.deepEqual(duplicates.toSorted(), ["m1", "m2", "m3"]);
    } finally {
      await system.shutdown();
    }
  });
});

Deno.test("a handler that always fails ends in a dead-letter record after its retries", async () => {
  await withKv(async (kvPath) => {
    let attempts = 0;
    const poison: Behavior<null, { type: "poison" }> = {
      kind: "poison",
      init: () => null,
      receive() {
        attempts++;
        throw new Error("this handler always fails");
      },
    };
    const system = await ActorSystem.start({
      kvPath,
      behaviors: [poison],
      retryScheduleMs: [10, 10, 10],
      root: { intensity: 100, periodMs: 60_000 },
      recoverySweepsMs: [],
      onError: () => {},
    });
    try {
      const id = await system.tellDurable("poison/p", { type: "poison" });
      const dead = await waitFor("a dead letter", async () => {
        const letters = await system.deadLetters("poison/p");
        return letters.length > 0 ? letters : undefined;
      }, { timeoutMs: 20_000 });
      assert.equal(dead.length, 1);
      assert.equal(dead[0]?.id, id);
      assert.deepEqual(dead[0]?.msg, { type: "poison" });
      assert.equal(attempts, 4, "the first delivery and three retries");
    } finally {
      await system.shutdown();
    }
  });
});

Deno.test("a poison message ends as a dead letter without restarting its actor or reaching the root", async () => {
  await withKv(async (kvPath) => {
    const PickyState = z.object({ good: z.array(z.string()) });
    const PickyMsg = z.object({ type: z.enum(["good", "bad"]), name: z.string() });
    let inits = 0;
    let badAttempts = 0;
    const picky: Behavior<z.infer<typeof PickyState>, z.infer<typeof PickyMsg>> = {
      kind: "picky",
      init() {
        inits++;
        return { good: [] };
      },
      receive(s, m) {
        if (m.type === "bad") {
          badAttempts++;
          throw new Error(`cannot handle ${m.name}`);
        }
        return { good: [...s.good, m.name] };
      },
      persistence: { state: PickyState, messages: PickyMsg },
    };
    const rootFailures: Error[] = [];
    const errors: string[] = [];
    const system = await ActorSystem.start({
      kvPath,
      behaviors: [picky],
      retryScheduleMs: [10, 10, 10],
      // Two crashes would exhaust this root: eight failed deliveries must not count as crashes.
      root: { intensity: 1, periodMs: 60_000 },
      onRootFailure: (error) => void rootFailures.push(error),
      recoverySweepsMs: [],
      onError: (where) => void errors.push(where),
    });
    try {
      for (
        const [type, name] of [["bad", "b1"], ["good", "g1"], ["bad", "b2"], [
          "good",
          "g2",
        ]] as const
      ) {
        await system.tellDurable("picky/p", { type, name }, { id: name });
      }
      const dead = await waitFor("both poison messages as dead letters", async () => {
        const letters = await system.deadLetters("picky/p");
        return letters.length === 2 ? letters : undefined;
      }, { timeoutMs: 20_000 });
      assert.deepEqual(dead.map((d) => d.id).toSorted(), ["b1", "b2"]);
      const kv = system.kv as Deno.Kv;
      const state = await waitFor("both good messages committed", async () => {
        const snap = (await readSnapshot(kv, { kind: "picky", id: "p" }))?.value as
          | { good: string[] }
          | undefined;
        return snap?.good.length === 2 ? snap : undefined;
      });
      assert.deepEqual(state.good.toSorted(), ["g1", "g2"]);
      assert.equal(badAttempts, 8, "each poison message: its first delivery and three retries");
      assert.equal(inits, 1, "the actor was never restarted");
      assert.deepEqual(rootFailures, [], "the root supervisor never heard of it");
      assert.equal(errors.length, 8, "every failed delivery is reported");
      assert.match(errors[0] ?? "", /durable message b\d to picky\/p \(left to its retries/);
    } finally {
      await system.shutdown();
    }
  });
});

Deno.test("a durable message that fails its zod schema becomes a dead letter without retries", async () => {
  await withKv(async (kvPath) => {
    const errors: string[] = [];
    const system = await ActorSystem.start({
      kvPath,
      behaviors: [counter],
      recoverySweepsMs: [],
      onError: (where) => void errors.push(where),
    });
    try {
      await system.tellDurable("counter/strict", { type: "add", n: "one" }, { id: "bad" });
      const dead = await waitFor("a dead letter", async () => {
        const letters = await system.deadLetters();
        return letters.length > 0 ? letters : undefined;
      });
      assert.equal(dead[0]?.id, "bad");
      assert.equal(system.has("counter/strict"), false);
      assert.match(errors[0] ?? "", /durable message bad to counter\/strict/);
    } finally {
      await system.shutdown();
    }
  });
});

Deno.test("persisted actors come back with their state when a new system starts", async () => {
  await withKv(async (kvPath) => {
    const first = await ActorSystem.start({ kvPath, behaviors: [counter], recoverySweepsMs: [] });
    try {
      for (let i = 0; i < 3; i++) await first.tellDurable("counter/keep", { type: "add", n: 2 });
      await first.tellDurable("counter/other", { type: "add", n: 5 });
      await waitFor("commits", async () =>
        (await countOf(first, "counter/keep"))?.count === 6 &&
        (await countOf(first, "counter/other"))?.count === 5);
    } finally {
      await first.shutdown();
    }
    const second = await ActorSystem.start({ kvPath, behaviors: [counter], recoverySweepsMs: [] });
    try {
      assert.equal(second.has("counter/keep"), true, "rehydrated without a message");
      assert.equal((await countOf(second, "counter/keep"))?.count, 6);
      assert.equal((await countOf(second, "counter/other"))?.count, 5);
    } finally {
      await second.shutdown();
    }
  });
});

Deno.test("local changes to a persisted actor are flushed by shutdown", async () => {
  await withKv(async (kvPath) => {
    const first = await ActorSystem.start({ kvPath, behaviors: [counter], recoverySweepsMs: [] });
    first.spawn(counter, "local").tell({ type: "add", n: 7 });
    await first.shutdown();
    const second = await ActorSystem.start({ kvPath, behaviors: [counter], recoverySweepsMs: [] });
    try {
      assert.equal((await countOf(second, "counter/local"))?.count, 7);
    } finally {
      await second.shutdown();
    }
  });
});

Deno.test("a durable tell made inside a durable turn is sent once, with its commit", async () => {
  await withKv(async (kvPath) => {
    type RelayMsg = { type: "relay"; n: number };
    const relay: Behavior<number, RelayMsg> = {
      kind: "relay",
      init: () => 0,
      receive(s, m, ctx) {
        ctx.tellDurable("counter/sink", { type: "add", n: m.n }, { id: `relay-${ctx.messageId}` });
        return s + 1;
      },
      persistence: {
        state: z.number(),
        messages: z.object({ type: z.literal("relay"), n: z.number() }),
      },
    };
    const duplicates: string[] = [];
    const system = await ActorSystem.start({
      kvPath,
      behaviors: [counter, relay],
      recoverySweepsMs: [],
      faults: { onDuplicate: (_a, id) => void duplicates.push(id) },
    });
    try {
      await system.tellDurable("relay/r", { type: "relay", n: 4 }, { id: "x" });
      await system.tellDurable("relay/r", { type: "relay", n: 4 }, { id: "x" });
      await waitFor(
        "the sink's commit",
        async () => (await countOf(system, "counter/sink"))?.count === 4,
      );
      await waitFor("the duplicate to be dropped", () => duplicates.includes("x"));
      assert.equal((await countOf(system, "counter/sink"))?.count, 4);
    } finally {
      await system.shutdown();
    }
  });
});

Deno.test("a durable timer fires after its delay and a cancelled one never fires", async () => {
  await withKv(async (kvPath) => {
    type TickMsg = { type: "arm" } | { type: "tick"; tag: string; dueAtMs: number } | {
      type: "get";
    };
    const fired: { tag: string; lateMs: number }[] = [];
    const ticker: Behavior<number, TickMsg> = {
      kind: "ticker",
      init: () => 0,
      receive(s, m, ctx) {
        if (m.type === "arm") {
          const now = Date.now();
          ctx.schedule(100, { type: "tick", tag: "kept", dueAtMs: now + 100 }, { durable: true });
          ctx.schedule(50, { type: "tick", tag: "cancelled", dueAtMs: now + 50 }, { durable: true })
            .cancel();
          // Due after both: once it is in, a cancelled tick that still fired would be too.
          ctx.schedule(300, { type: "tick", tag: "last", dueAtMs: now + 300 }, { durable: true });
        } else if (m.type === "tick") {
          fired.push({ tag: m.tag, lateMs: Date.now() - m.dueAtMs });
        }
        return s;
      },
    };
    const system = await ActorSystem.start({ kvPath, behaviors: [ticker], recoverySweepsMs: [] });
    try {
      system.spawn(ticker, "t").tell({ type: "arm" });
      await waitFor("the last timer", () => fired.some((f) => f.tag === "last"));
      assert.deepEqual(fired.map((f) => f.tag), ["kept", "last"]);
      assert.ok((fired[0]?.lateMs ?? -1) >= 0, "never early");
    } finally {
      await system.shutdown();
    }
  });
});

Deno.test("a failing message in a group commit is retried alone while its neighbours commit once", async () => {
  await withKv(async (kvPath) => {
    const ListState = z.array(z.number());
    const ListMsg = z.object({
      type: z.literal("put"),
      n: z.number(),
      poison: z.boolean(),
      slowMs: z.number(),
    });
    const runs = new Map<number, number>();
    const list: Behavior<number[], z.infer<typeof ListMsg>> = {
      kind: "list",
      init: () => [],
      async receive(s, m) {
        runs.set(m.n, (runs.get(m.n) ?? 0) + 1);
        if (m.slowMs > 0) await new Promise((r) => setTimeout(r, m.slowMs));
        if (m.poison) throw new Error("poison");
        return [...s, m.n];
      },
      persistence: { state: ListState, messages: ListMsg },
    };
    const system = await ActorSystem.start({
      kvPath,
      behaviors: [list],
      retryScheduleMs: [10, 10, 10],
      root: { intensity: 100, periodMs: 60_000 },
      recoverySweepsMs: [],
      onError: () => {},
    });
    try {
      const put = (n: number, poison = false, slowMs = 0) =>
        system.tellDurable("list/l", { type: "put", n, poison, slowMs }, { id: `n${n}` });
      await put(0, false, 300);
      await waitFor("the slow message to start", () => runs.has(0));
      await Promise.all([put(1), put(2, true), put(3), put(4)]);
      await waitFor(
        "the poison's dead letter",
        async () => (await system.deadLetters()).length > 0,
        {
          timeoutMs: 20_000,
        },
      );
      const kv = system.kv as Deno.Kv;
      const committed = await waitFor("the others' commits", async () => {
        const list = (await readSnapshot(kv, { kind: "list", id: "l" }))?.value as number[];
        return list?.length === 4 ? list : undefined;
      });
      assert.deepEqual(committed.toSorted(), [0, 1, 3, 4]);
      assert.deepEqual((await system.deadLetters()).map((d) => d.id), ["n2"]);
      assert.equal(runs.get(2), 4, "the poison ran once and was retried three times");
    } finally {
      await system.shutdown();
    }
  });
});

Deno.test("a second actor system on the same KV handle is refused, since it would get no messages", async () => {
  await withKv(async (kvPath) => {
    const kv = await Deno.openKv(kvPath);
    const first = await ActorSystem.start({ kv });
    try {
      await assert.rejects(() => ActorSystem.start({ kv }), /already has a queue listener/);
    } finally {
      await first.shutdown();
      kv.close();
    }
  });
});

Deno.test("tellDurableIn sends with the caller's commit, and nothing when that commit fails", async () => {
  await withKv(async (kvPath) => {
    const system = await ActorSystem.start({ kvPath, behaviors: [counter], recoverySweepsMs: [] });
    try {
      const kv = system.kv!;
      const flag = ["test_flag"];
      // A check that fails: the state change and its message are both left out.
      const lost = kv.atomic().check({ key: flag, versionstamp: "00000000000000000000" });
      lost.set(flag, "lost");
      system.tellDurableIn(lost, "counter/outbox", { type: "add", n: 100 }, { id: "lost" });
      assert.equal((await lost.commit()).ok, false);
      const kept = kv.atomic().check({ key: flag, versionstamp: null });
      kept.set(flag, "kept");
      const id = system.tellDurableIn(kept, "counter/outbox", { type: "add", n: 1 });
      assert.equal((await kept.commit()).ok, true);
      await waitFor(
        "the committed message",
        async () => (await countOf(system, "counter/outbox"))?.count === 1,
      );
      // The failed one had time to come too, had it been sent.
      await system.tellDurable("counter/outbox", { type: "add", n: 2 }, { id: "after" });
      await waitFor(
        "the message sent after",
        async () => (await countOf(system, "counter/outbox"))?.count === 3,
      );
      assert.deepEqual((await countOf(system, "counter/outbox"))?.ids, [id, "after"]);
      assert.equal((await kv.get(flag)).value, "kept");
    } finally {
      await system.shutdown();
    }
  });
});

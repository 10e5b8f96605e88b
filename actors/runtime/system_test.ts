import assert from "node:assert/strict";
import {
  ActorFailedError,
  ActorStoppedError,
  ActorSystem,
  AskNotAnsweredError,
  AskTimeoutError,
  type Behavior,
} from "./mod.ts";
import { waitFor } from "./testdata/wait.ts";

type LogMsg = { type: "add"; n: number } | { type: "get" };

const log: Behavior<number[], LogMsg> = {
  kind: "log",
  init: () => [],
  receive(state, msg, ctx) {
    if (msg.type === "add") return [...state, msg.n];
    ctx.reply(state);
    return state;
  },
};

Deno.test("an actor handles tells from one sender in the order they were sent", async () => {
  const system = await ActorSystem.start();
  try {
    const ref = system.spawn(log, "order");
    for (let n = 0; n < 5_000; n++) ref.tell({ type: "add", n });
    const seen = await ref.ask<number[]>({ type: "get" });
    assert.deepEqual(seen, Array.from({ length: 5_000 }, (_, n) => n));
  } finally {
    await system.shutdown();
  }
});

type SlowMsg = { type: "work"; n: number };

Deno.test("1,000 concurrent asks to an actor that awaits inside its handler never overlap", async () => {
  let inside = 0;
  let maxInside = 0;
  const slow: Behavior<number[], SlowMsg> = {
    kind: "slow",
    init: () => [],
    async receive(state, msg, ctx) {
      inside++;
      maxInside = Math.max(maxInside, inside);
      await new Promise((r) => setTimeout(r, 0));
      await Promise.resolve();
      inside--;
      ctx.reply(msg.n * 2);
      return [...state, msg.n];
    },
  };
  const system = await ActorSystem.start();
  try {
    const ref = system.spawn(slow, "one");
    const replies = await Promise.all(
      Array.from(
        { length: 1_000 },
        (_, n) => ref.ask<number>({ type: "work", n }, { timeoutMs: 30_000 }),
      ),
    );
    assert.deepEqual(replies, Array.from({ length: 1_000 }, (_, n) => n * 2));
    assert.deepEqual(maxInside, 1);
  } finally {
    await system.shutdown();
  }
});

Deno.test("an ask that gets no reply in time rejects with AskTimeoutError", async () => {
  const silent: Behavior<null, { type: "ping" }> = {
    kind: "silent",
    init: () => null,
    receive(state, _msg, ctx) {
      ctx.deferReply();
      return state;
    },
  };
  const system = await ActorSystem.start();
  try {
    const ref = system.spawn(silent, "s");
    await assert.rejects(() => ref.ask({ type: "ping" }, { timeoutMs: 30 }), (error) => {
      assert(error instanceof AskTimeoutError);
      assert.equal(error.timeoutMs, 30);
      assert.equal(error.address, "silent/s");
      return true;
    });
  } finally {
    await system.shutdown();
  }
});

Deno.test("a handler that neither replies nor defers fails the ask at once", async () => {
  const system = await ActorSystem.start();
  try {
    const ref = system.spawn(log, "mute");
    await assert.rejects(() => ref.ask({ type: "add", n: 1 }), AskNotAnsweredError);
  } finally {
    await system.shutdown();
  }
});

Deno.test("deferReply() answers an ask from a later message", async () => {
  type M = { type: "wait" } | { type: "release"; value: string };
  const gate: Behavior<((v: unknown) => void)[], M> = {
    kind: "gate",
    init: () => [],
    receive(waiting, msg, ctx) {
      if (msg.type === "wait") return [...waiting, ctx.deferReply()];
      for (const answer of waiting) answer(msg.value);
      return [];
    },
  };
  const system = await ActorSystem.start();
  try {
    const ref = system.spawn(gate, "g");
    const answer = ref.ask<string>({ type: "wait" });
    ref.tell({ type: "release", value: "open" });
    assert.deepEqual(await answer, "open");
  } finally {
    await system.shutdown();
  }
});

Deno.test("an ask to an address where nothing runs rejects with ActorStoppedError", async () => {
  const system = await ActorSystem.start();
  try {
    await assert.rejects(() => system.ref("log/nobody").ask({ type: "get" }), ActorStoppedError);
    system.ref("log/nobody").tell({ type: "get" });
    assert.deepEqual(system.undelivered, 1);
  } finally {
    await system.shutdown();
  }
});

Deno.test("a handler that throws fails the ask with ActorFailedError and the actor restarts", async () => {
  type M = { type: "boom" } | { type: "get" };
  let inits = 0;
  const fragile: Behavior<string, M> = {
    kind: "fragile",
    init: () => `run ${++inits}`,
    receive(state, msg, ctx) {
      if (msg.type === "boom") throw new Error("boom");
      ctx.reply(state);
      return state;
    },
  };
  const system = await ActorSystem.start();
  try {
    const ref = system.spawn(fragile, "f", { backoff: { minMs: 1, maxMs: 5 } });
    await assert.rejects(() => ref.ask({ type: "boom" }), ActorFailedError);
    assert.deepEqual(await ref.ask<string>({ type: "get" }), "run 2");
  } finally {
    await system.shutdown();
  }
});

Deno.test("schedule() delivers to self after the delay and cancel() stops it", async () => {
  type M = { type: "start" } | { type: "tick"; tag: string } | { type: "get" };
  const timer: Behavior<string[], M> = {
    kind: "timer",
    init: () => [],
    receive(state, msg, ctx) {
      if (msg.type === "start") {
        ctx.schedule(5, { type: "tick", tag: "kept" });
        ctx.schedule(5, { type: "tick", tag: "cancelled" }).cancel();
        // Due after both: once it is in, a cancelled tick that still fired would be too.
        ctx.schedule(20, { type: "tick", tag: "last" });
        return state;
      }
      if (msg.type === "tick") return [...state, msg.tag];
      ctx.reply(state);
      return state;
    },
  };
  const system = await ActorSystem.start();
  try {
    const ref = system.spawn(timer, "t");
    ref.tell({ type: "start" });
    const seen = await waitFor("the last tick", async () => {
      const ticks = await ref.ask<string[]>({ type: "get" });
      return ticks.includes("last") ? ticks : undefined;
    });
    assert.deepEqual(seen, ["kept", "last"]);
  } finally {
    await system.shutdown();
  }
});

Deno.test("ctx.spawn() and ctx.ask() let actors talk to their children", async () => {
  type ParentMsg = { type: "sum"; values: number[] };
  const parent: Behavior<null, ParentMsg> = {
    kind: "parent",
    init(id, ctx) {
      ctx.spawn(log, `${id}-child`);
      return null;
    },
    async receive(state, msg, ctx) {
      const child = `log/${ctx.self.split("/")[1]}-child`;
      for (const n of msg.values) ctx.tell(child, { type: "add", n });
      const seen = await ctx.ask<number[]>(child, { type: "get" });
      ctx.reply(seen.reduce((a, b) => a + b, 0));
      return state;
    },
  };
  const system = await ActorSystem.start();
  try {
    const ref = system.spawn(parent, "p");
    assert.deepEqual(await ref.ask<number>({ type: "sum", values: [1, 2, 3] }), 6);
    assert.deepEqual(system.childrenOf("parent/p"), ["log/p-child"]);
    assert.equal(system.countOf("log"), 1);
    assert.equal(system.countOf("parent"), 1);
    system.spawn(log, "other");
    assert.equal(system.countOf("log"), 2);
    await system.stop("log/other");
    assert.equal(system.countOf("log"), 1);
    assert.equal(system.countOf("lo"), 0);
  } finally {
    await system.shutdown();
  }
});

Deno.test("spawning a second actor at a taken address throws", async () => {
  const system = await ActorSystem.start();
  try {
    system.spawn(log, "dup");
    let threw = false;
    try {
      system.spawn(log, "dup");
    } catch (error) {
      threw = error instanceof Error && error.message.includes("already runs");
    }
    assert(threw);
  } finally {
    await system.shutdown();
  }
});

Deno.test("shutdown() drains mailboxes before it runs onStop", async () => {
  const stopped: number[][] = [];
  const drained: Behavior<number[], LogMsg> = {
    ...log,
    kind: "drained",
    onStop: (s) => void stopped.push(s),
  };
  const system = await ActorSystem.start();
  const ref = system.spawn(drained, "d");
  for (let n = 0; n < 100; n++) ref.tell({ type: "add", n });
  await system.shutdown({ deadlineMs: 2_000 });
  assert.deepEqual(stopped, [Array.from({ length: 100 }, (_, n) => n)]);
});

import assert from "node:assert/strict";
import {
  ActorSystem,
  type Behavior,
  type ChildFailed,
  EscalationError,
  type RestartStrategy,
  supervisor,
} from "./mod.ts";
import { waitFor } from "./testdata/wait.ts";

type WorkerMsg = { type: "crash" } | { type: "ping" } | { type: "quit" };

/** A worker that records its starts and stops in `journal`, and crashes or quits on request. */
function worker(kind: string, journal: string[]): Behavior<number, WorkerMsg> {
  return {
    kind,
    init(id) {
      journal.push(`start ${id}`);
      return performance.now();
    },
    receive(startedAt, msg, ctx) {
      if (msg.type === "crash") throw new Error(`crash requested`);
      if (msg.type === "quit") ctx.stop();
      else ctx.reply(startedAt);
      return startedAt;
    },
    onStop(_state, ctx) {
      journal.push(`stop ${ctx.self.split("/")[1]}`);
    },
  };
}

function count(journal: string[], entry: string): number {
  return journal.filter((e) => e === entry).length;
}

Deno.test("a crashing child is restarted after its backoff while its siblings keep working", async () => {
  const journal: string[] = [];
  const w = worker("w", journal);
  const system = await ActorSystem.start();
  try {
    system.spawn(
      supervisor({
        intensity: 10,
        children: [
          { behavior: w, id: "crasher", backoff: { minMs: 80, maxMs: 1_000, randomFactor: 0 } },
          { behavior: w, id: "sibling" },
        ],
      }),
      "sup",
    );
    const crasher = system.ref<WorkerMsg>("w/crasher");
    const sibling = system.ref<WorkerMsg>("w/sibling");
    await crasher.ask({ type: "ping" });
    const crashedAt = performance.now();
    crasher.tell({ type: "crash" });
    const siblingAnswers: number[] = [];
    for (let i = 0; i < 5; i++) {
      await sibling.ask({ type: "ping" });
      siblingAnswers.push(performance.now());
    }
    const restartedAt = await crasher.ask<number>({ type: "ping" }, { timeoutMs: 10_000 });
    assert.ok(restartedAt - crashedAt >= 80, `restarted after ${restartedAt - crashedAt} ms`);
    assert.ok(
      siblingAnswers.every((t) => t < restartedAt),
      "the sibling answered during the backoff",
    );
    assert.equal(count(journal, "start crasher"), 2);
    assert.equal(count(journal, "start sibling"), 1);

    const secondCrashAt = performance.now();
    crasher.tell({ type: "crash" });
    const restartedAgainAt = await crasher.ask<number>({ type: "ping" }, { timeoutMs: 10_000 });
    assert.ok(
      restartedAgainAt - secondCrashAt >= 160,
      `the second backoff doubled: ${restartedAgainAt - secondCrashAt} ms`,
    );
  } finally {
    await system.shutdown();
  }
});

for (
  const [strategy, expected] of [
    ["one_for_one", { a: 1, b: 2, c: 1 }],
    ["one_for_all", { a: 2, b: 2, c: 2 }],
    ["rest_for_one", { a: 1, b: 2, c: 2 }],
  ] as const
) {
  Deno.test(`${strategy} restarts exactly the children it names`, async () => {
    const journal: string[] = [];
    const w = worker("w", journal);
    const system = await ActorSystem.start();
    try {
      const children = ["a", "b", "c"].map((id) => ({
        behavior: w,
        id,
        backoff: { minMs: 1, maxMs: 10 },
      }));
      const sup = system.spawn(
        supervisor({ strategy: strategy as RestartStrategy, children }),
        strategy,
      );
      for (const id of ["a", "b", "c"]) await system.ref(`w/${id}`).ask({ type: "ping" });
      system.ref("w/b").tell({ type: "crash" });
      const total = expected.a + expected.b + expected.c;
      await waitFor(
        "restarts",
        () => journal.filter((e) => e.startsWith("start")).length === total,
      );
      for (const id of ["a", "b", "c"]) await system.ref(`w/${id}`).ask({ type: "ping" });
      assert.deepEqual(
        {
          a: count(journal, "start a"),
          b: count(journal, "start b"),
          c: count(journal, "start c"),
        },
        expected,
      );
      assert.deepEqual(await sup.ask({ type: "which_children" }), ["w/a", "w/b", "w/c"]);
      if (strategy === "one_for_all") {
        const stops = journal.filter((e) => e.startsWith("stop"));
        assert.deepEqual(
          stops,
          ["stop b", "stop c", "stop a"],
          "crashed first, then reverse order",
        );
      }
    } finally {
      await system.shutdown();
    }
  });
}

Deno.test("more restarts than the intensity allows escalate to the parent as ChildFailed", async () => {
  const journal: string[] = [];
  const w = worker("w", journal);
  const signals: ChildFailed[] = [];
  type ParentMsg = { type: "noop" };
  const parent: Behavior<null, ParentMsg> = {
    kind: "parent",
    init(_id, ctx) {
      ctx.spawn(
        supervisor({
          kind: "inner",
          intensity: 2,
          periodMs: 60_000,
          children: [{ behavior: w, id: "x", backoff: { minMs: 1, maxMs: 5 } }],
        }),
        "sup",
        { restart: "temporary" },
      );
      return null;
    },
    receive: (s) => s,
    onSignal(state, signal) {
      signals.push(signal);
      return state;
    },
  };
  const system = await ActorSystem.start();
  try {
    system.spawn(parent, "p");
    for (let i = 0; i < 3; i++) {
      await waitFor("child x to run", () => system.has("w/x"));
      await system.ref("w/x").ask({ type: "ping" });
      system.ref("w/x").tell({ type: "crash" });
      if (i < 2) await waitFor(`restart ${i + 1}`, () => count(journal, "start x") === i + 2);
    }
    const signal = await waitFor("the ChildFailed signal", () => signals[0]);
    assert.equal(signal.type, "ChildFailed");
    assert.equal(signal.child, "inner/sup");
    assert.equal(signal.restarting, false);
    assert.match(signal.error, /gave up: more than 2 restarts/);
    await waitFor(
      "the supervisor and its child to stop",
      () => !system.has("inner/sup") && !system.has("w/x"),
    );
  } finally {
    await system.shutdown();
  }
});

Deno.test("the root supervisor's failure reaches onRootFailure", async () => {
  const failures: Error[] = [];
  const journal: string[] = [];
  const system = await ActorSystem.start({
    root: { intensity: 1, periodMs: 60_000 },
    onRootFailure: (error) => failures.push(error),
  });
  try {
    system.spawn(worker("w", journal), "top", { backoff: { minMs: 1, maxMs: 2 } });
    await system.ref("w/top").ask({ type: "ping" });
    system.ref("w/top").tell({ type: "crash" });
    await waitFor("restart", () => count(journal, "start top") === 2);
    await system.ref("w/top").ask({ type: "ping" });
    system.ref("w/top").tell({ type: "crash" });
    const error = await waitFor("root failure", () => failures[0]);
    assert.ok(error instanceof EscalationError);
    assert.match(error.message, /system\/root gave up/);
  } finally {
    await system.shutdown();
  }
});

Deno.test("restart types: temporary is never restarted, transient only after a crash, permanent always", async () => {
  const journal: string[] = [];
  const w = worker("w", journal);
  const system = await ActorSystem.start();
  try {
    system.spawn(
      supervisor({
        intensity: 20,
        children: [
          { behavior: w, id: "temp", restart: "temporary", backoff: { minMs: 1 } },
          { behavior: w, id: "trans-crash", restart: "transient", backoff: { minMs: 1 } },
          { behavior: w, id: "trans-quit", restart: "transient", backoff: { minMs: 1 } },
          { behavior: w, id: "perm-quit", restart: "permanent", backoff: { minMs: 1 } },
        ],
      }),
      "types",
    );
    for (const id of ["temp", "trans-crash", "trans-quit", "perm-quit"]) {
      await system.ref(`w/${id}`).ask({ type: "ping" });
    }
    system.ref("w/temp").tell({ type: "crash" });
    system.ref("w/trans-crash").tell({ type: "crash" });
    system.ref("w/trans-quit").tell({ type: "quit" });
    system.ref("w/perm-quit").tell({ type: "quit" });
    await waitFor(
      "restarts",
      () => count(journal, "start trans-crash") === 2 && count(journal, "start perm-quit") === 2,
    );
    await waitFor(
      "the temporary and the quitting transient to be gone",
      () => !system.has("w/temp") && !system.has("w/trans-quit"),
    );
    await system.ref("w/trans-crash").ask({ type: "ping" });
    await system.ref("w/perm-quit").ask({ type: "ping" });
    assert.equal(count(journal, "start temp"), 1);
    assert.equal(count(journal, "start trans-quit"), 1);
    assert.deepEqual(system.childrenOf("supervisor/types"), ["w/trans-crash", "w/perm-quit"]);
  } finally {
    await system.shutdown();
  }
});

Deno.test("a supervisor reports every ChildFailed through onChildFailed", async () => {
  const journal: string[] = [];
  const seen: ChildFailed[] = [];
  const system = await ActorSystem.start();
  try {
    system.spawn(
      supervisor({
        children: [{ behavior: worker("w", journal), id: "k", backoff: { minMs: 1 } }],
        onChildFailed: (s) => seen.push(s),
      }),
      "watch",
    );
    await system.ref("w/k").ask({ type: "ping" });
    system.ref("w/k").tell({ type: "crash" });
    const signal = await waitFor("signal", () => seen[0]);
    assert.deepEqual(signal, {
      type: "ChildFailed",
      child: "w/k",
      error: "Error: crash requested",
      restarting: true,
    });
  } finally {
    await system.shutdown();
  }
});

import assert from "node:assert/strict";
import { ActorStoppedError, ActorSystem, type Behavior, installShutdownHandlers } from "./mod.ts";

Deno.test("stop() stops intake first, then drains and shuts the system down", async () => {
  const order: string[] = [];
  const worker: Behavior<number, { type: "work" }> = {
    kind: "worker",
    init: () => 0,
    async receive(n) {
      await new Promise((r) => setTimeout(r, 1));
      return n + 1;
    },
    onStop(n) {
      order.push(`onStop after ${n} messages`);
    },
  };
  const system = await ActorSystem.start();
  const ref = system.spawn(worker, "w");
  for (let i = 0; i < 20; i++) ref.tell({ type: "work" });
  const lines: string[] = [];
  const handlers = installShutdownHandlers(system, {
    exit: false,
    deadlineMs: 5_000,
    stopIntake: () => void order.push("intake stopped"),
    log: (line) => void lines.push(line),
  });
  await handlers.stop("test");
  assert.deepEqual(order, ["intake stopped", "onStop after 20 messages"]);
  assert.equal(system.stopping, true);
  assert.match(lines[0] ?? "", /test, stopping \(drain deadline 5000 ms\)/);
  assert.match(lines[1] ?? "", /stopped in \d+ ms/);
});

Deno.test("shutdown() stops an actor whose turn outlives the drain deadline, and answers its mail", async () => {
  let release: () => void = () => {};
  const hung = new Promise<void>((resolve) => release = resolve);
  const stopped: string[] = [];
  const stuck: Behavior<null, { type: "hang" } | { type: "later" }> = {
    kind: "stuck",
    init: () => null,
    async receive(state, msg) {
      if (msg.type === "hang") await hung;
      return state;
    },
    onStop: () => void stopped.push("stuck/s"),
  };
  const system = await ActorSystem.start();
  try {
    const ref = system.spawn(stuck, "s");
    ref.tell({ type: "hang" });
    const later = ref.ask({ type: "later" }, { timeoutMs: 60_000 });
    await system.shutdown({ deadlineMs: 50 });
    assert.deepEqual(stopped, ["stuck/s"], "onStop ran although the turn never ended");
    assert.equal(system.has("stuck/s"), false);
    await assert.rejects(later, ActorStoppedError);
  } finally {
    release();
  }
});

Deno.test("stopped resolves to the exit code once any target has stopped, and only once", async () => {
  let shutdowns = 0;
  const handlers = installShutdownHandlers({
    shutdown: ({ deadlineMs }) => {
      shutdowns++;
      assert.equal(deadlineMs, 250);
      return Promise.resolve();
    },
  }, { exit: false, deadlineMs: 250, log: () => {} });
  await Promise.all([handlers.stop("first"), handlers.stop("second")]);
  assert.equal(await handlers.stopped, 0);
  assert.equal(shutdowns, 1);
});

Deno.test("stopped resolves to 1 when the target fails to stop", async () => {
  const handlers = installShutdownHandlers({
    shutdown: () => Promise.reject(new Error("stuck")),
  }, { exit: false, log: () => {} });
  await handlers.stop("test");
  assert.equal(await handlers.stopped, 1);
});

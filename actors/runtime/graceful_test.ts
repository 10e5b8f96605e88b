import assert from "node:assert/strict";
import { ActorSystem, type Behavior, installShutdownHandlers } from "./mod.ts";

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

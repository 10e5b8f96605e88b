import assert from "node:assert/strict";
import { ActorFailedError, ActorSystem, type Behavior } from "./mod.ts";

type M = { type: "boom" } | { type: "spawn" } | { type: "get" };

const fragile: Behavior<null, M> = {
  kind: "fragile",
  init: () => null,
  receive(state, msg, ctx) {
    if (msg.type === "boom") throw new Error("boom");
    if (msg.type === "spawn") ctx.spawn(fragile, "child", { restart: "transient" });
    ctx.reply(state);
    return state;
  },
};

Deno.test("supervisionTree() shows each actor's restart type and restarts, children under their parent, and the system counts every restart", async () => {
  const system = await ActorSystem.start();
  try {
    const parent = system.spawn(fragile, "parent", { backoff: { minMs: 1, maxMs: 5 } });
    await parent.ask({ type: "spawn" });
    assert.equal(system.restarts.restarts, 0);
    const child = system.ref<M>("fragile/child");
    await assert.rejects(() => child.ask({ type: "boom" }), ActorFailedError);
    await child.ask({ type: "get" });
    assert.deepEqual(system.supervisionTree(), [{
      address: "fragile/parent",
      restart: "permanent",
      restarts: 0,
      children: [{ address: "fragile/child", restart: "transient", restarts: 1, children: [] }],
    }]);
    await assert.rejects(() => parent.ask({ type: "boom" }), ActorFailedError);
    await parent.ask({ type: "get" });
    assert.equal(system.supervisionTree()[0]?.restarts, 1);
    assert.equal(system.restarts.restarts, 2);
  } finally {
    await system.shutdown();
  }
});

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { ModelSchema } from "../config/mod.ts";
import { ActorSystem, type Behavior } from "../actors/runtime/mod.ts";
import { waitFor } from "../actors/runtime/testdata/wait.ts";
import { type ReplicaStatus, replicaSupervisorBehavior } from "./replica_actor.ts";

const FIXTURE = new URL("../tests/fixtures/health_server.ts", import.meta.url).pathname;

/** A stand-in for the model's RouterActor: it keeps what it is told. */
function routerStandIn(
  told: { type: string; id: string }[],
): Behavior<null, { type: string; id: string }> {
  return {
    kind: "router",
    init: () => null,
    receive(state, msg) {
      told.push({ type: msg.type, id: msg.id });
      return state;
    },
  };
}

Deno.test("a replica on port 0 whose port was taken while it restarted comes back on a new one, re-routed", async () => {
  const stateDir = await Deno.makeTempDir();
  const system = await ActorSystem.start();
  const told: { type: string; id: string }[] = [];
  let squatter: Deno.Listener | undefined;
  try {
    const router = system.spawn(routerStandIn(told), "fixture");
    const supervisor = system.spawn(replicaSupervisorBehavior(), "local");
    const model = ModelSchema.parse({
      name: "fixture",
      command: `deno run -A ${FIXTURE} --port {port} --name {name}`,
    });
    const address = await supervisor.ask<string>({
      type: "start",
      id: "fixture/0",
      replica: { model, index: 0, port: 0, stateDir, router: router.address },
    });
    const replica = system.ref(address);
    const status = () => replica.ask<ReplicaStatus>({ type: "status" });
    const first = await waitFor("the first start", async () => {
      const s = await status();
      return s.running ? s : undefined;
    });
    const port = Number(new URL(first.url).port);
    Deno.kill(first.pid!, "SIGKILL");
    // Another process takes the freed port before the restart.
    squatter = await waitFor("the freed port", () => {
      try {
        return Deno.listen({ hostname: "127.0.0.1", port });
      } catch {
        return undefined;
      }
    });
    const second = await waitFor("a start on another port", async () => {
      const s = await status().catch(() => undefined);
      return s?.running && s.url !== first.url ? s : undefined;
    });
    const id = (url: string) => `127.0.0.1:${new URL(url).port}`;
    assert(told.some((m) => m.type === "remove" && m.id === id(first.url)), JSON.stringify(told));
    assertEquals(told.at(-1), { type: "add", id: id(second.url) });
  } finally {
    squatter?.close();
    await system.shutdown({ deadlineMs: 5_000 });
    await Deno.remove(stateDir, { recursive: true });
  }
});

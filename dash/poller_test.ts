import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { startGateway } from "../gateway/gateway.ts";
import { startRig, waitFor } from "../gateway/testing.ts";
import { httpGetter } from "./feed.ts";
import { backoffMs, type FeedState, Poller } from "./poller.ts";

Deno.test("backoffMs() doubles from 0.5 s up to 10 s", () => {
  assertEquals([1, 2, 3, 4, 5, 6, 7].map((n) => backoffMs(n)), [
    500,
    1_000,
    2_000,
    4_000,
    8_000,
    10_000,
    10_000,
  ]);
});

Deno.test("Poller goes disconnected when the gateway stops and reconnects when it is back", async () => {
  const rig = await startRig();
  const port = rig.gateway.port;
  const states: FeedState[] = [];
  const poller = new Poller(httpGetter(rig.gateway.url, { timeoutMs: 2_000 }), {
    intervalMs: 200,
    onUpdate: (s) => states.push(s),
  });
  poller.start();
  try {
    await waitFor("connected", () => poller.state.connection.state === "connected", {
      timeoutMs: 30_000,
      everyMs: 50,
    });
    await rig.gateway.close({ deadlineMs: 2_000 });
    await waitFor("disconnected", () => poller.state.connection.state === "disconnected", {
      timeoutMs: 30_000,
      everyMs: 50,
    });
    assert(poller.state.snapshot, "the last snapshot is kept");
    rig.gateway = await startGateway(rig.config, { port, hostname: "127.0.0.1" });
    await waitFor("reconnected", () => poller.state.connection.state === "connected", {
      timeoutMs: 30_000,
      everyMs: 50,
    });
    assert(states.some((s) => s.connection.state === "disconnected"));
  } finally {
    poller.stop();
    await rig.close();
  }
});

import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import { startGateway } from "../gateway/gateway.ts";
import { chat, startRig, waitFor } from "../gateway/testing.ts";
import { fetchSnapshot, httpGetter } from "./feed.ts";
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

Deno.test("fetchSnapshot() reads a real gateway's endpoints and throws Disconnected on a closed port", async () => {
  const rig = await startRig();
  try {
    await rig.client.chat.completions.create(chat("hello"));
    const snapshot = await fetchSnapshot(httpGetter(rig.gateway.url));
    assert(snapshot.backends.state === "ok");
    assertEquals(snapshot.backends.data.backends.length, 2);
    assert(snapshot.stats.state === "ok");
    assertEquals(snapshot.stats.data.summary.total, 1);
    assert(snapshot.health.state === "ok");
  } finally {
    await rig.close();
  }
  const closed = httpGetter(rig.gateway.url, { timeoutMs: 2_000 });
  await rejects(fetchSnapshot(closed), { name: "Disconnected" });
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

Deno.test("fetchSnapshot() sends the admin key; without it the admin routes say to pass one", async () => {
  const adminKey = "dash-poller-admin-key-0123456789";
  const rig = await startRig({
    auth: { enabled: true, admin_key: adminKey },
    logging: { level: "warn" },
  });
  try {
    const keyed = await fetchSnapshot(httpGetter(rig.gateway.url, { adminKey }));
    assertEquals(keyed.backends.state, "ok");
    const bare = await fetchSnapshot(httpGetter(rig.gateway.url));
    assert(bare.backends.state === "error");
    assert(bare.backends.message.startsWith("HTTP 401"), bare.backends.message);
    assert(
      bare.backends.message.endsWith("(pass the admin key: TURNPIKE_ADMIN_KEY or --admin-key)"),
    );
  } finally {
    await rig.close();
  }
});

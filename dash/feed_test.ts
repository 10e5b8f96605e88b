import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import { chat, startRig } from "../gateway/testing.ts";
import { fetchSnapshot, httpGetter } from "./feed.ts";

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

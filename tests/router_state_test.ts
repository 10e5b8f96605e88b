import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { chat, MODEL, startEchoUpstream, startRig, waitFor } from "../gateway/testing.ts";
import { routerAddress } from "../actors/router/mod.ts";

interface Listed {
  id: string;
  url: string;
  source: string;
  healthy: boolean | null;
  eligible: boolean;
}

async function listed(base: string): Promise<Listed[]> {
  const res = await fetch(`${base}/api/backends`);
  const body = await res.json() as { backends: Listed[] };
  return body.backends.toSorted((a, b) => a.id.localeCompare(b.id));
}

function register(base: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${base}/api/backends`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: MODEL, ttl_seconds: 30, ...body }),
  });
}

async function send(base: string, content: string): Promise<number> {
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(chat(content)),
  });
  await res.body?.cancel();
  return res.status;
}

Deno.test("re-registering a backend id under a new URL answers 201 and routes to the new URL only", async () => {
  const rig = await startRig({ replicas: 0, listSims: false });
  const before = await startEchoUpstream();
  const after = await startEchoUpstream();
  const base = rig.gateway.url;
  try {
    let res = await register(base, { id: "r1", url: before.url });
    assertEquals(res.status, 201);
    await res.body?.cancel();
    await waitFor("the first URL healthy", async () => (await listed(base))[0]?.eligible === true);
    assertEquals(await send(base, "first"), 200);
    assertEquals(before.seen.length, 1);

    res = await register(base, { id: "r1", url: after.url });
    assertEquals(res.status, 201);
    assertEquals((await res.json()).created, true);
    await waitFor("the new URL healthy in place of the old one", async () => {
      const backends = await listed(base);
      return backends.length === 1 && backends[0]?.url === after.url && backends[0].eligible;
    });
    for (let i = 0; i < 5; i++) assertEquals(await send(base, `again ${i}`), 200);
    assertEquals([before.seen.length, after.seen.length], [1, 5]);
  } finally {
    await rig.close();
    await before.close();
    await after.close();
  }
});

Deno.test("a RouterActor that crashes mid-traffic comes back with its static and registered backends and live health", async () => {
  const rig = await startRig({ replicas: 2, proxy: { health_check_interval: 0.2 } });
  const registered = await startEchoUpstream();
  const base = rig.gateway.url;
  const ids = [...rig.sims.map((s) => new URL(s.url).host), "reg"].sort();
  const statuses: number[] = [];
  let running = true;
  let traffic: Promise<unknown> = Promise.resolve();
  try {
    const res = await register(base, { id: "reg", url: registered.url });
    assertEquals(res.status, 201);
    await res.body?.cancel();
    const allEligible = async () => {
      const backends = await listed(base);
      return backends.length === 3 && backends.every((b) => b.eligible);
    };
    await waitFor("all three backends healthy", allEligible);

    traffic = Promise.all([0, 1, 2].map(async (lane) => {
      for (let i = 0; running; i++) {
        statuses.push(await send(base, `lane ${lane} turn ${i}`).catch(() => 0));
      }
    }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const router = routerAddress(MODEL);
    const childrenBefore = rig.gateway.system.childrenOf(router);
    // A report without its report makes the handler throw: the runtime restarts the actor.
    rig.gateway.system.ref(router).tell({ type: "report" });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await waitFor("the three backends routed again after the restart", allEligible, {
      timeoutMs: 5_000,
    });
    running = false;
    await traffic;
    const childrenAfter = rig.gateway.system.childrenOf(router);
    assertEquals(childrenAfter.length, 3);
    assert(childrenAfter.every((child) => !childrenBefore.includes(child)), `${childrenAfter}`);

    const backends = await listed(base);
    assertEquals(
      backends.map((b) => [b.id, b.source]),
      [
        [ids[0], "static"],
        [ids[1], "static"],
        ["reg", "registered"],
      ].sort((a, b) => a[0]!.localeCompare(b[0]!)),
    );
    assert(statuses.length > 0 && statuses.every((s) => s === 200 || s === 503), `${statuses}`);
    assert(statuses.filter((s) => s === 200).length > 0, `${statuses}`);

    await registered.close();
    await waitFor("a failed probe of the registered backend to show", async () => {
      const reg = (await listed(base)).find((b) => b.id === "reg");
      return reg?.healthy === false && !reg.eligible;
    }, { timeoutMs: 5_000 });
    assertEquals(await send(base, "after"), 200);
  } finally {
    running = false;
    await traffic;
    await rig.close();
    await registered.close().catch(() => {});
  }
});

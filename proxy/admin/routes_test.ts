import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { chat, MODEL, startRig, waitFor } from "../../gateway/testing.ts";

async function send(
  url: string,
  method: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, {
    method,
    headers: { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  return { status: res.status, json: await res.json() };
}

Deno.test("a registered replica serves its model, heartbeats keep it, DELETE removes it", async () => {
  const rig = await startRig({ replicas: 1, listSims: false });
  const base = rig.gateway.url;
  try {
    const sim = rig.sims[0]!;
    let res = await send(`${base}/v1/chat/completions`, "POST", chat("hi"));
    assertEquals(res.status, 404);

    res = await send(`${base}/api/backends`, "POST", {
      url: sim.url,
      model: MODEL,
      ttl_seconds: 30,
    });
    assertEquals(res.status, 201);
    const id = res.json.id as string;
    assertEquals(id, new URL(sim.url).host);
    await waitFor(
      "the registered backend to be healthy",
      () => (rig.gateway.fleet.router(MODEL)?.eligibleCount ?? 0) === 1,
    );
    const answer = await rig.client.chat.completions.create(chat("hello"));
    assertEquals(answer.object, "chat.completion");

    res = await send(`${base}/api/backends`, "POST", {
      url: sim.url,
      model: MODEL,
      ttl_seconds: 30,
    });
    assertEquals([res.status, res.json.created], [200, false]);
    res = await send(`${base}/api/backends/${encodeURIComponent(id)}/heartbeat`, "POST");
    assertEquals(res.status, 200);

    const list = await send(`${base}/api/backends`, "GET");
    const listed = (list.json.backends as Record<string, unknown>[])[0]!;
    assertEquals([listed.id, listed.source, listed.ttl_seconds, listed.healthy], [
      id,
      "registered",
      30,
      true,
    ]);

    res = await send(`${base}/api/backends/${encodeURIComponent(id)}`, "DELETE");
    assertEquals([res.status, res.json.deleted], [200, true]);
    res = await send(`${base}/api/backends/${encodeURIComponent(id)}`, "DELETE");
    assertEquals([res.status, (res.json.error as Record<string, unknown>).code], [
      404,
      "backend_not_found",
    ]);
    res = await send(`${base}/v1/chat/completions`, "POST", chat("hi"));
    assertEquals(res.status, 404);
  } finally {
    await rig.close();
  }
});

Deno.test("a registration whose heartbeats stop expires", async () => {
  const rig = await startRig({ replicas: 1, listSims: false });
  const base = rig.gateway.url;
  try {
    const res = await send(`${base}/api/backends`, "POST", {
      url: rig.sims[0]!.url,
      model: MODEL,
      ttl_seconds: 0.4,
      id: "short-lived",
    });
    assertEquals(res.status, 201);
    await waitFor(
      "the backend to be healthy",
      () => (rig.gateway.fleet.router(MODEL)?.eligibleCount ?? 0) === 1,
    );
    await waitFor(
      "the registration to expire",
      async () =>
        ((await send(`${base}/api/backends`, "GET")).json.backends as unknown[]).length === 0,
      { timeoutMs: 5_000 },
    );
    const models = await send(`${base}/v1/models`, "GET");
    assertEquals(models.json.data, []);
    const hb = await send(`${base}/api/backends/short-lived/heartbeat`, "POST");
    assertEquals(hb.status, 404);
  } finally {
    await rig.close();
  }
});

Deno.test("bad registrations are refused with the field at fault", async () => {
  const rig = await startRig({ replicas: 0 });
  const base = rig.gateway.url;
  try {
    let res = await send(`${base}/api/backends`, "POST", { url: "not a url", model: "m" });
    assertEquals([res.status, (res.json.error as Record<string, unknown>).param], [400, "url"]);
    res = await send(`${base}/api/backends`, "POST", {
      url: "http://127.0.0.1:1",
      model: "m",
      ttl_seconds: -1,
    });
    assertEquals([res.status, (res.json.error as Record<string, unknown>).param], [
      400,
      "ttl_seconds",
    ]);
    res = await send(`${base}/api/backends`, "POST", "{oops");
    assertEquals(res.status, 400);
    res = await send(`${base}/api/stats?limit=-2`, "GET");
    assertEquals([res.status, (res.json.error as Record<string, unknown>).param], [400, "limit"]);
    assert(
      typeof ((await send(`${base}/api/stats`, "GET")).json.summary as Record<string, unknown>)
        .total === "number",
    );
  } finally {
    await rig.close();
  }
});

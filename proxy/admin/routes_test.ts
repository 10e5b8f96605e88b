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

Deno.test("GET /api/requests pages this process's records newest first, with filters", async () => {
  const rig = await startRig({ replicas: 1 });
  const base = rig.gateway.url;
  try {
    for (const [i, session] of ["s1", "s2", "s1", "s2", "s1"].entries()) {
      const res = await fetch(`${base}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-session-id": session },
        body: JSON.stringify(chat(`turn ${i}`)),
      });
      assertEquals(res.status, 200);
      await res.body?.cancel();
    }
    const missing = await send(`${base}/v1/chat/completions`, "POST", {
      ...chat("x"),
      model: "nope",
    });
    assertEquals(missing.status, 404);

    let res = await send(`${base}/api/requests?session=s1&limit=2`, "GET");
    const data = res.json.data as Record<string, unknown>[];
    assertEquals([res.json.object, res.json.scope, res.json.has_more], ["list", "local", true]);
    assertEquals(data.map((r) => r.sessionId), ["s1", "s1"]);
    assertEquals(data[0]?.node, rig.gateway.system.nodeId);
    const next = res.json.next_cursor as string;
    // A newer record arriving between pages does not shift the next one.
    await send(`${base}/v1/chat/completions`, "POST", chat("y"));
    res = await send(`${base}/api/requests?session=s1&limit=2&cursor=${next}`, "GET");
    assertEquals([(res.json.data as unknown[]).length, res.json.has_more, res.json.next_cursor], [
      1,
      false,
      null,
    ]);
    res = await send(`${base}/api/requests?status=4xx`, "GET");
    assertEquals((res.json.data as Record<string, unknown>[]).map((r) => r.model), ["nope"]);
    res = await send(`${base}/api/requests?status=200&model=${MODEL}&limit=1000`, "GET");
    assertEquals((res.json.data as unknown[]).length, 6);

    await rig.gateway.log.flush();
    res = await send(`${base}/api/requests?scope=cluster&session=s2`, "GET");
    assertEquals([res.json.scope, (res.json.data as unknown[]).length], ["cluster", 2]);
    res = await send(`${base}/api/stats?scope=cluster`, "GET");
    assertEquals((res.json.summary as Record<string, unknown>).total, 7);
    assertEquals(res.json.nodes, { [rig.gateway.system.nodeId]: 7 });
  } finally {
    await rig.close();
  }
});

Deno.test("GET /api/requests and /api/stats refuse a bad query with a 400 naming the parameter", async () => {
  const rig = await startRig({ replicas: 0 });
  const base = rig.gateway.url;
  try {
    for (
      const [query, param] of [
        ["scope=everywhere", "scope"],
        ["limit=0", "limit"],
        ["limit=1001", "limit"],
        ["limit=ten", "limit"],
        ["status=600", "status"],
        ["cursor=zz", "cursor"],
        ["scope=cluster&cursor=l5", "cursor"],
        ["sesion=s1", "sesion"],
      ]
    ) {
      const res = await send(`${base}/api/requests?${query}`, "GET");
      const error = res.json.error as Record<string, unknown>;
      assertEquals([res.status, error.param, error.type], [400, param, "invalid_request_error"]);
    }
    const res = await send(`${base}/api/stats?scope=all`, "GET");
    assertEquals([res.status, (res.json.error as Record<string, unknown>).param], [400, "scope"]);
  } finally {
    await rig.close();
  }
});

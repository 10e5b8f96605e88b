import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import OpenAI from "openai";
import { chat, MODEL, startRig } from "./testing.ts";

function assertShape(body: unknown, code: string | null, param: string | null = null): void {
  const error = (body as { error: Record<string, unknown> }).error;
  assertEquals(Object.keys(error).sort(), ["code", "message", "param", "type"]);
  assertEquals([error.code, error.param], [code, param]);
  assert(
    typeof error.message === "string" && error.message.length > 0 &&
      !String(error.message).includes("    at "),
  );
}

async function post(
  url: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
}

Deno.test("client mistakes get OpenAI-shaped 400, 404 and 413 answers, never a 500", async () => {
  const rig = await startRig({ replicas: 1, proxy: { max_body_bytes: 2048 } });
  const url = `${rig.gateway.url}/v1/chat/completions`;
  try {
    let res = await post(url, "{not json");
    assertEquals(res.status, 400);
    assertShape(await res.json(), "invalid_json");

    res = await post(url, JSON.stringify({ model: MODEL }));
    assertEquals(res.status, 400);
    assertShape(await res.json(), "invalid_request", "messages");

    res = await post(url, JSON.stringify([1, 2]));
    assertEquals(res.status, 400);
    assertShape(await res.json(), "invalid_request");

    res = await post(url, JSON.stringify(chat("x".repeat(4096))));
    assertEquals(res.status, 413);
    assertShape(await res.json(), "request_too_large");

    res = await post(`${rig.gateway.url}/v1/embeddings`, JSON.stringify({ model: MODEL }));
    assertEquals(res.status, 400);
    assertShape(await res.json(), "invalid_request", "input");

    res = await fetch(`${rig.gateway.url}/v1/nothing-here`);
    assertEquals(res.status, 404);
    assertShape(await res.json(), "not_found");

    res = await post(url, JSON.stringify({ ...chat("hi"), model: "no-such-model" }), {
      "x-request-id": "r-404",
    });
    assertEquals(res.status, 404);
    assertEquals(res.headers.get("x-request-id"), "r-404");
    assertShape(await res.json(), "model_not_found", "model");

    await rejects(
      rig.client.chat.completions.create({ ...chat("hi"), model: "no-such-model" }),
      (error) => {
        assert(error instanceof OpenAI.NotFoundError);
        assertEquals(error.code, "model_not_found");
        return true;
      },
    );
    // Requests refused before routing are recorded too (the unrouted 404 never reaches forwarding).
    const refused = rig.gateway.records.recent();
    assertEquals(
      refused.map((r) => r.status).reverse(),
      [400, 400, 400, 413, 400, 404, 404],
    );
    const unknown = refused.find((r) => r.requestId === "r-404");
    assertEquals([unknown?.model, unknown?.backendId, unknown?.attempts], [
      "no-such-model",
      undefined,
      0,
    ]);
  } finally {
    await rig.close();
  }
});

Deno.test("a model with no healthy backend answers 503 with Retry-After", async () => {
  // The dead replica's port stays bound for the whole test (a freed port could be taken by a
  // server of a test running in parallel): every connection to it is closed unanswered.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const deadPort = (listener.addr as Deno.NetAddr).port;
  const refusing = (async () => {
    for await (const conn of listener) conn.close();
  })();
  const rig = await startRig({
    replicas: 0,
    models: [{ name: "dead", endpoints: [`http://127.0.0.1:${deadPort}`] }],
  });
  try {
    const res = await post(
      `${rig.gateway.url}/v1/chat/completions`,
      JSON.stringify({ ...chat("hi"), model: "dead" }),
    );
    assertEquals(res.status, 503);
    assert(Number(res.headers.get("retry-after")) > 0);
    assertShape(await res.json(), "no_healthy_backend");
    const models = await rig.client.models.list();
    assertEquals(
      (models.data[0] as unknown as { turnpike: { status: string } }).turnpike.status,
      "unavailable",
    );
  } finally {
    await rig.close();
    listener.close();
    await refusing.catch(() => {});
  }
});

Deno.test("a request slower than proxy.request_timeout gets a 504", async () => {
  const rig = await startRig({ replicas: 1, proxy: { request_timeout: 0.3 } });
  try {
    rig.sims[0]!.faults.apply({ hang_rate: 1 });
    const res = await post(`${rig.gateway.url}/v1/chat/completions`, JSON.stringify(chat("hang")));
    assertEquals(res.status, 504);
    assertShape(await res.json(), "request_timeout");
    const record = rig.gateway.records.recent()[0];
    assertEquals(record?.status, 504);
  } finally {
    await rig.close();
  }
});

/** Once auth is on, a session belongs to the client that made it: another client's key finds nothing. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import OpenAI from "openai";
import { chat, MODEL, startRig, type TestRig } from "../../gateway/testing.ts";

const ADMIN_KEY = "admin-key-for-tests-0123456789";

async function call(
  rig: TestRig,
  method: string,
  path: string,
  key: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${rig.gateway.url}${path}`, {
    method,
    headers: { "content-type": "application/json", authorization: `Bearer ${key}`, ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: await res.json() };
}

async function newKey(rig: TestRig, client: string): Promise<string> {
  const made = await call(rig, "POST", "/api/keys", ADMIN_KEY, { name: client, client_id: client });
  assertEquals(made.status, 201);
  return made.json.key as string;
}

Deno.test("with auth on, a session is its client's own: another key gets 404 on every route, lists none of it and cannot record into it", async () => {
  const rig = await startRig({ replicas: 1, auth: { enabled: true, admin_key: ADMIN_KEY } });
  try {
    const a = await newKey(rig, "team-a");
    const b = await newKey(rig, "team-b");
    // The header claims another client; the key decides.
    const made = await call(rig, "POST", "/v1/sessions", a, { model: MODEL }, {
      "x-client-id": "someone-else",
    });
    assertEquals(made.status, 201, JSON.stringify(made.json));
    assertEquals(made.json.client_id, "team-a");
    const id = made.json.id as string;
    const turn = await call(rig, "POST", `/v1/sessions/${id}/chat`, a, {
      messages: [{ role: "user", content: "hello" }],
      max_tokens: 8,
    });
    assertEquals(turn.status, 200, JSON.stringify(turn.json));

    for (
      const [method, path, body] of [
        ["GET", `/v1/sessions/${id}`, undefined],
        ["GET", `/v1/sessions/${id}/history`, undefined],
        ["POST", `/v1/sessions/${id}/chat`, { messages: [{ role: "user", content: "mine?" }] }],
        ["POST", `/v1/sessions/${id}/extend`, {}],
        ["POST", `/v1/sessions/${id}/cancel`, {}],
        ["DELETE", `/v1/sessions/${id}`, undefined],
        ["GET", `/v1/conversations/${id}`, undefined],
      ] as const
    ) {
      const other = await call(rig, method, path, b, body);
      assertEquals(other.status, 404, `${method} ${path}: ${JSON.stringify(other.json)}`);
      assertEquals((other.json.error as { type: string }).type, "invalid_request_error");
    }
    const listedByB = await call(rig, "GET", "/v1/sessions", b);
    assertEquals(listedByB.json.data, []);
    const askedForA = await call(rig, "GET", "/v1/sessions?client_id=team-a", b);
    assertEquals(askedForA.json.data, []);
    const listedByA = await call(rig, "GET", "/v1/sessions", a);
    assertEquals((listedByA.json.data as { id: string }[]).map((s) => s.id), [id]);
    const spoofed = await call(rig, "POST", "/v1/sessions", b, {
      model: MODEL,
      client_id: "team-a",
    });
    assertEquals([spoofed.status, (spoofed.json.error as { param: string }).param], [
      403,
      "client_id",
    ]);

    // A plain call carrying A's session header is served, and not recorded into A's session.
    const plain = new OpenAI({
      baseURL: `${rig.gateway.url}/v1`,
      apiKey: b,
      maxRetries: 0,
      defaultHeaders: { "x-session-id": id },
    });
    const answer = await plain.chat.completions.create(chat("not yours"));
    assert(answer.choices[0]?.message.content);
    const history = await call(rig, "GET", `/v1/sessions/${id}/history`, a);
    assertEquals((history.json.data as unknown[]).length, 1);

    // The admin key sees every client's sessions; the records name the key's client.
    assertEquals((await call(rig, "GET", `/v1/sessions/${id}`, ADMIN_KEY)).status, 200);
    const records = await call(rig, "GET", "/api/requests?limit=50", ADMIN_KEY);
    const clients = (records.json.data as { clientId?: string; client_id?: string }[])
      .map((r) => r.clientId ?? r.client_id);
    assert(clients.includes("team-b") && !clients.includes("someone-else"), String(clients));
  } finally {
    await rig.close();
  }
});

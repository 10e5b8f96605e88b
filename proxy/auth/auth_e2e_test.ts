import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import OpenAI from "openai";
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { chat, MODEL, startEchoUpstream, startRig, type TestRig } from "../../gateway/testing.ts";

const ADMIN_KEY = "admin-key-for-tests-0123456789";
const OTHER = "other-model";

function client(rig: TestRig, apiKey: string): OpenAI {
  return new OpenAI({ baseURL: `${rig.gateway.url}/v1`, apiKey, maxRetries: 0, timeout: 20_000 });
}

async function call(
  rig: TestRig,
  method: string,
  path: string,
  options: { key?: string; body?: unknown; header?: "authorization" | "x-api-key" } = {},
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (options.key !== undefined) {
    if (options.header === "x-api-key") headers["x-api-key"] = options.key;
    else headers["authorization"] = `Bearer ${options.key}`;
  }
  const res = await fetch(`${rig.gateway.url}${path}`, {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  return { status: res.status, json: await res.json(), headers: res.headers };
}

async function withAuthRig(
  fn: (rig: TestRig) => Promise<void>,
  auth: Record<string, unknown> = {},
  extra: { models?: Record<string, unknown>[] } = {},
): Promise<void> {
  const rig = await startRig({
    replicas: 1,
    auth: { enabled: true, admin_key: ADMIN_KEY, ...auth },
    ...extra,
  });
  try {
    await fn(rig);
  } finally {
    await rig.close();
  }
}

Deno.test("a key made with the admin API works with the OpenAI SDK; no, bad and revoked keys get 401 AuthenticationError", async () => {
  await withAuthRig(async (rig) => {
    const created = await call(rig, "POST", "/api/keys", {
      key: ADMIN_KEY,
      body: { name: "sdk", client_id: "team-a" },
    });
    assertEquals(created.status, 201);
    const key = created.json.key as string;
    assert(key.startsWith(`tp-${created.json.id}-`));
    const answer = await client(rig, key).chat.completions.create(chat("hello"));
    assert(answer.choices[0]?.message.content);

    const listed = await call(rig, "GET", "/api/keys", { key: ADMIN_KEY });
    assertEquals(listed.status, 200);
    assert(!JSON.stringify(listed.json).includes(key.split("-").slice(2).join("-")));

    for (const bad of ["sk-not-ours", `${key}x`, "tp-0123456789abcdef-nope"]) {
      let error: unknown;
      try {
        await client(rig, bad).chat.completions.create(chat("hello"));
      } catch (e) {
        error = e;
      }
      assert(error instanceof OpenAI.AuthenticationError, `${bad}: ${error}`);
      assertEquals(error.status, 401);
      assertEquals(error.code, "invalid_api_key");
    }
    const missing = await call(rig, "POST", "/v1/chat/completions", { body: chat("hello") });
    assertEquals(missing.status, 401);
    assertEquals(missing.headers.get("www-authenticate"), 'Bearer realm="turnpike"');
    assertEquals((missing.json.error as Record<string, unknown>).type, "authentication_error");
    const wrong = await call(rig, "POST", "/v1/chat/completions", {
      key: "tp-0123456789abcdef-nope",
      body: chat("hello"),
    });
    assertEquals(
      wrong.headers.get("www-authenticate"),
      'Bearer realm="turnpike", error="invalid_token"',
    );

    const revoked = await call(rig, "DELETE", `/api/keys/${created.json.id}`, { key: ADMIN_KEY });
    assertEquals(revoked.status, 200);
    let error: unknown;
    try {
      await client(rig, key).chat.completions.create(chat("hello"));
    } catch (e) {
      error = e;
    }
    assert(error instanceof OpenAI.AuthenticationError);
    assert(/revoked/.test(error.message), error.message);
    assertEquals(
      (await call(rig, "DELETE", "/api/keys/0123456789abcdef", { key: ADMIN_KEY })).status,
      404,
    );
  });
});

Deno.test("a key limited to one model gets 403 PermissionDeniedError for another, and /v1/models lists only its own", async () => {
  const echo = await startEchoUpstream();
  try {
    await withAuthRig(
      async (rig) => {
        const { key } = await rig.gateway.auth.createKey({
          name: "narrow",
          clientId: "team-b",
          models: [MODEL],
        });
        const sdk = client(rig, key);
        let error: unknown;
        try {
          await sdk.chat.completions.create(chat("hello", { model: OTHER }));
        } catch (e) {
          error = e;
        }
        assert(error instanceof OpenAI.PermissionDeniedError, String(error));
        assertEquals(error.code, "model_not_allowed");
        assertEquals(error.param, "model");
        const models = await sdk.models.list();
        assertEquals(models.data.map((m) => m.id), [MODEL]);
        const all = await client(rig, ADMIN_KEY).models.list();
        assertEquals(all.data.map((m) => m.id).sort(), [MODEL, OTHER].sort());
        const session = await call(rig, "POST", "/v1/sessions", { key, body: { model: OTHER } });
        assertEquals(session.status, 403);
        assertEquals((session.json.error as Record<string, unknown>).code, "model_not_allowed");
        const response = await call(rig, "POST", "/v1/responses", {
          key,
          body: { model: OTHER, input: "hi" },
        });
        assertEquals(response.status, 403);
      },
      {},
      { models: [{ name: OTHER, endpoints: [echo.url] }] },
    );
  } finally {
    await echo.close();
  }
});

Deno.test("x-api-key is accepted, and neither it nor Authorization is sent on to the replica", async () => {
  const echo = await startEchoUpstream();
  try {
    await withAuthRig(
      async (rig) => {
        const { key } = await rig.gateway.auth.createKey({ name: "k", clientId: "c" });
        for (const header of ["authorization", "x-api-key"] as const) {
          const res = await call(rig, "POST", "/v1/chat/completions", {
            key,
            header,
            body: chat("echo me", { model: OTHER }),
          });
          assertEquals(res.status, 200, JSON.stringify(res.json));
        }
        assertEquals(echo.seen.length, 2);
        for (const seen of echo.seen) {
          assertEquals(seen.headers["authorization"], undefined);
          assertEquals(seen.headers["x-api-key"], undefined);
        }
      },
      {},
      { models: [{ name: OTHER, endpoints: [echo.url] }] },
    );
  } finally {
    await echo.close();
  }
});

Deno.test("admin routes: 401 without a key, 403 with a plain key, 200 with the admin key; /health stays public", async () => {
  await withAuthRig(async (rig) => {
    const { key } = await rig.gateway.auth.createKey({ name: "k", clientId: "c" });
    const registration = { url: "http://127.0.0.1:9/", model: "m", ttl_seconds: 30 };
    assertEquals((await call(rig, "POST", "/api/backends", { body: registration })).status, 401);
    const denied = await call(rig, "POST", "/api/backends", { key, body: registration });
    assertEquals(denied.status, 403);
    assertEquals((denied.json.error as Record<string, unknown>).type, "permission_error");
    assertEquals((await call(rig, "GET", "/api/keys", { key })).status, 403);
    assertEquals(
      (await call(rig, "POST", "/api/keys", { key, body: { name: "x", client_id: "y" } })).status,
      403,
    );
    const admitted = await call(rig, "POST", "/api/backends", {
      key: ADMIN_KEY,
      body: registration,
    });
    assertEquals(admitted.status, 201);
    assertEquals(
      (await call(rig, "DELETE", `/api/backends/${admitted.json.id}`, { key: ADMIN_KEY })).status,
      200,
    );
    // Reads too: they show every client's requests and the replicas' addresses.
    assertEquals((await call(rig, "GET", "/api/backends", { key })).status, 403);
    assertEquals((await call(rig, "GET", "/api/requests", { key })).status, 403);
    assertEquals((await call(rig, "GET", "/api/backends", { key: ADMIN_KEY })).status, 200);
    assertEquals((await call(rig, "GET", "/api/backends")).status, 401);
    assertEquals((await call(rig, "GET", "/health")).status, 200);
    const badBody = await call(rig, "POST", "/api/keys", { key: ADMIN_KEY, body: { name: "x" } });
    assertEquals(badBody.status, 400);
    assertEquals((badBody.json.error as Record<string, unknown>).param, "client_id");
  });
});

Deno.test("a JWT from the configured PEM key calls the gateway with its claims' models", async () => {
  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  const file = await Deno.makeTempFile({ suffix: ".pem" });
  await Deno.writeTextFile(file, await exportSPKI(publicKey));
  try {
    await withAuthRig(async (rig) => {
      const token = await new SignJWT({ sub: "svc", models: [MODEL], priority: "low" })
        .setProtectedHeader({ alg: "ES256" })
        .setIssuer("https://idp.test")
        .setAudience("turnpike")
        .setIssuedAt()
        .setExpirationTime("5m")
        .sign(privateKey);
      const sdk = client(rig, token);
      assert((await sdk.chat.completions.create(chat("hi"))).choices.length > 0);
      let error: unknown;
      try {
        await sdk.chat.completions.create(chat("hi", { model: OTHER }));
      } catch (e) {
        error = e;
      }
      assert(error instanceof OpenAI.PermissionDeniedError);
      const stale = await new SignJWT({ sub: "svc" })
        .setProtectedHeader({ alg: "ES256" })
        .setIssuer("https://idp.test")
        .setAudience("turnpike")
        .setIssuedAt(Math.floor(Date.now() / 1000) - 600)
        .setExpirationTime(Math.floor(Date.now() / 1000) - 300)
        .sign(privateKey);
      const expired = await call(rig, "GET", "/v1/models", { key: stale });
      assertEquals(expired.status, 401);
      assert(/"exp"/.test((expired.json.error as Record<string, string>).message!));
    }, {
      jwt: { public_key_file: file, issuer: "https://idp.test", audience: "turnpike" },
    }, { models: [{ name: OTHER, endpoints: ["http://127.0.0.1:9"] }] });
  } finally {
    await Deno.remove(file);
  }
});

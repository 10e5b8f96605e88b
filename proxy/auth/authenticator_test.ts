import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { withOpenKv } from "../../actors/runtime/testdata/temp_kv.ts";
import { AuthSchema } from "../../config/auth_schema.ts";
import { adminKeyOf, Authenticator } from "./authenticator.ts";

function request(headers: Record<string, string>): Request {
  return new Request("http://gateway/v1/models", { headers });
}

Deno.test("adminKeyOf(): the variable admin_key_env names wins over admin_key when set", () => {
  const auth = { admin_key: "from-the-yaml-file-0001", admin_key_env: "TP_ADMIN" };
  assertEquals(adminKeyOf(auth, () => "from-the-environment"), "from-the-environment");
  assertEquals(adminKeyOf(auth, () => undefined), "from-the-yaml-file-0001");
  assertEquals(adminKeyOf(auth, () => ""), "from-the-yaml-file-0001");
  assertEquals(adminKeyOf({ admin_key_env: "TP_ADMIN" }, () => undefined), undefined);
});

Deno.test("authenticate(): a key in memory is checked without a promise; it gives the key's principal", async () => {
  await withOpenKv("turnpike-auth-", async (kv) => {
    const config = AuthSchema.parse({ enabled: true, default_priority: "low" });
    const auth = await Authenticator.start(config, kv, { env: () => undefined });
    try {
      const { key, record } = await auth.createKey({
        name: "k",
        clientId: "team-a",
        models: ["m"],
        limits: { tokens_per_minute: 1000 },
      });
      const outcome = auth.authenticate(request({ "x-api-key": key }));
      assert(!(outcome instanceof Promise));
      assert(outcome.ok);
      assertEquals(outcome.principal, {
        kind: "key",
        clientId: "team-a",
        credentialId: record.id,
        models: ["m"],
        priority: "low",
        priorityHeader: false,
        limits: { tokensPerMinute: 1000 },
        admin: false,
      });
      const missing = auth.authenticate(request({}));
      assert(!(missing instanceof Promise) && !missing.ok);
      assertEquals(missing.reason, "missing");
      const basic = auth.authenticate(request({ authorization: "Basic abc" }));
      assert(!(basic instanceof Promise) && !basic.ok);
      assertEquals(basic.reason, "invalid");
      const internal = auth.authenticate(request({ authorization: auth.internalAuthorization }));
      assert(!(internal instanceof Promise) && internal.ok);
    } finally {
      await auth.close();
    }
  });
});

Deno.test("authenticate(): the admin key from the environment gives the admin principal", async () => {
  await withOpenKv("turnpike-auth-", async (kv) => {
    const config = AuthSchema.parse({ enabled: true, admin_key_env: "TP_ADMIN" });
    const secret = "admin-from-env-0123456789";
    const auth = await Authenticator.start(config, kv, { env: () => secret });
    try {
      const outcome = await auth.authenticate(request({ authorization: `Bearer ${secret}` }));
      assert(outcome.ok);
      assertEquals(outcome.principal.admin, true);
      const wrong = await auth.authenticate(request({ authorization: `Bearer ${secret}x` }));
      assert(!wrong.ok);
    } finally {
      await auth.close();
    }
  });
});

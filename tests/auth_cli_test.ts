import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import OpenAI from "openai";
import { loadConfig } from "../config/mod.ts";
import { startGateway } from "../gateway/mod.ts";
import { chat, MODEL, waitFor } from "../gateway/testing.ts";
import { startSimulator } from "../sim/mod.ts";
import { KEYS_PREFIX } from "../proxy/auth/api_keys.ts";
import { kvPath } from "../config/mod.ts";
import { runCli } from "./cli_run.ts";

async function withConfig(
  yaml: (dir: string) => string,
  fn: (file: string, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-auth-cli-" });
  try {
    const file = `${dir}/turnpike.yaml`;
    await Deno.writeTextFile(file, yaml(dir));
    await fn(file, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("keys create/list/revoke run as processes on the KV file a gateway serves from", async () => {
  const sim = await startSimulator({ port: 0, timeScale: 20, tokenizer: "approx", seed: 1 });
  try {
    await withConfig(
      (dir) =>
        [
          "proxy: { health_check_interval: 30 }",
          `models: [{ name: ${MODEL}, endpoints: ["${sim.url}"] }]`,
          "auth: { enabled: true, key_refresh_interval: 0.1 }",
          `state_dir: ${dir}/state`,
        ].join("\n"),
      async (file) => {
        const created = await runCli([
          "keys",
          "create",
          "--config",
          file,
          "--name",
          "ci",
          "--client",
          "team-a",
          "--models",
          MODEL,
          "--priority",
          "high",
          "--rpm",
          "60",
        ]);
        assertEquals(created.code, 0, created.stderr);
        const key = created.stdout.trim();
        assert(/^tp-[0-9a-f]{16}-\S+$/.test(key), created.stdout);
        assert(/shown only this once/.test(created.stderr), created.stderr);
        const id = key.split("-")[1]!;
        const secret = key.slice(`tp-${id}-`.length);

        const listed = await runCli(["keys", "list", "--config", file, "--json"]);
        assertEquals(listed.code, 0, listed.stderr);
        assert(!listed.stdout.includes(secret), "list shows the secret");
        const views = JSON.parse(listed.stdout);
        assertEquals(views.length, 1);
        assertEquals(views[0].id, id);
        assertEquals(views[0].priority, "high");
        assertEquals(views[0].limits.requests_per_minute, 60);

        const config = await loadConfig(file);
        const kv = await Deno.openKv(kvPath(config));
        try {
          const stored = await kv.get([...KEYS_PREFIX, id]);
          assert(stored.value, "the key is not in KV");
          assert(!JSON.stringify(stored.value).includes(secret), "KV holds the secret");
        } finally {
          kv.close();
        }

        const gateway = await startGateway(config, { port: 0, hostname: "127.0.0.1" });
        try {
          const sdk = new OpenAI({
            baseURL: `${gateway.url}/v1`,
            apiKey: key,
            maxRetries: 0,
            timeout: 20_000,
          });
          assert((await sdk.chat.completions.create(chat("hello"))).choices.length > 0);
          const revoked = await runCli(["keys", "revoke", id, "--config", file]);
          assertEquals(revoked.code, 0, revoked.stderr);
          await waitFor("the revocation to reach the gateway", async () => {
            try {
              await sdk.chat.completions.create(chat("hello"));
              return false;
            } catch (error) {
              return error instanceof OpenAI.AuthenticationError;
            }
          });
        } finally {
          await gateway.close({ deadlineMs: 2_000 });
        }
        const unknown = await runCli(["keys", "revoke", "0123456789abcdef", "--config", file]);
        assertEquals(unknown.code, 1);
        const bad = await runCli(["keys", "create", "--config", file, "--name", "x"]);
        assertEquals(bad.code, 2);
        assert(/--client/.test(bad.stderr), bad.stderr);
      },
    );
  } finally {
    await sim.close();
  }
});

Deno.test("serve refuses 0.0.0.0 with auth off (exit 2) unless --insecure", async () => {
  await withConfig(
    (dir) => [`proxy: { host: 0.0.0.0, port: 5800 }`, `state_dir: ${dir}/state`].join("\n"),
    async (file) => {
      const refused = await runCli(["serve", "--config", file, "--port", "0"]);
      assertEquals(refused.code, 2, refused.stdout + refused.stderr);
      assert(/Refusing to listen on 0\.0\.0\.0 with auth off/.test(refused.stderr), refused.stderr);
      assert(/--insecure/.test(refused.stderr));
      const flag = await runCli(["serve", "--config", file, "--host", "::", "--port", "0"]);
      assertEquals(flag.code, 2, flag.stderr);
    },
  );
});

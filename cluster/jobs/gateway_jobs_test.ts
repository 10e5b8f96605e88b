import assert from "node:assert/strict";
import { ConfigSchema } from "../../config/schema.ts";
import { gatewayUrl, JobStatusRowSchema } from "./gateway_jobs.ts";
import { adminKeyFor } from "./open_jobs.ts";

Deno.test("gatewayUrl() reaches a wildcard listener on loopback and brackets IPv6", () => {
  assert.equal(gatewayUrl("127.0.0.1", 5800), "http://127.0.0.1:5800");
  assert.equal(gatewayUrl("0.0.0.0", 5800), "http://127.0.0.1:5800");
  assert.equal(gatewayUrl("::", 5800), "http://[::1]:5800");
  assert.equal(gatewayUrl("::1", 5800), "http://[::1]:5800");
  assert.equal(gatewayUrl("gw.example.org", 80), "http://gw.example.org:80");
});

Deno.test("adminKeyFor() takes the flag, then TURNPIKE_ADMIN_KEY, then the config's key", () => {
  const config = ConfigSchema.parse({
    auth: { enabled: true, admin_key: "from-the-config-file-0123", admin_key_env: "GW_KEY" },
  });
  const env = (values: Record<string, string>) => (name: string) => values[name];
  assert.equal(adminKeyFor(config, "flag", env({ TURNPIKE_ADMIN_KEY: "t", GW_KEY: "g" })), "flag");
  assert.equal(adminKeyFor(config, undefined, env({ TURNPIKE_ADMIN_KEY: "t", GW_KEY: "g" })), "t");
  assert.equal(adminKeyFor(config, undefined, env({ GW_KEY: "g" })), "g");
  assert.equal(adminKeyFor(config, undefined, env({})), "from-the-config-file-0123");
  assert.equal(adminKeyFor(ConfigSchema.parse({}), undefined, env({})), undefined);
});

Deno.test("JobStatusRowSchema reads a row whose undefined fields JSON left out", () => {
  const parsed = JobStatusRowSchema.parse({
    model: "m",
    replica: 0,
    kind: "slurm",
    phase: "pending",
    slurmState: "PENDING",
    partition: "gpu_a",
    sinceMs: 1,
    port: 5900,
    health: "unknown",
    attempts: 1,
  });
  assert.equal(parsed.jobId, undefined);
  assert.equal(parsed.port, 5900);
  assert.throws(() => JobStatusRowSchema.parse({ ...parsed, phase: "exploded" }));
});

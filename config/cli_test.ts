import assert from "node:assert/strict";
import { configFromFlags, parseFlags, UsageError } from "./cli.ts";
import { ConfigError } from "./loader.ts";

Deno.test("parseFlags() accepts --config on every command beside its own flags", () => {
  const { values } = parseFlags(["--config", "a.yaml", "--port", "1"], {
    port: { type: "string" },
  }, "usage");
  assert.equal(values.config, "a.yaml");
  assert.equal(values.port, "1");
});

Deno.test("parseFlags() turns an unknown flag or a missing value into a UsageError with the usage", () => {
  assert.throws(() => parseFlags(["--nope"], {}, "the usage"), (e: unknown) => {
    assert.ok(e instanceof UsageError);
    assert.equal(e.usage, "the usage");
    return true;
  });
  assert.throws(() => parseFlags(["--config"], {}, "u"), UsageError);
});

Deno.test("configFromFlags() loads the file --config names and the default without it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/c.yaml`;
    await Deno.writeTextFile(file, "proxy: {port: 6123}\n");
    const config = await configFromFlags({ config: file }, { env: {} });
    assert.equal(config.proxy.port, 6123);
    assert.equal((await configFromFlags({}, { env: {} })).proxy.port, 5800);
    await Deno.writeTextFile(file, "proxy: {port: nope}\n");
    await assert.rejects(configFromFlags({ config: file }, { env: {} }), ConfigError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "./loader.ts";

function problemsOf(text: string, env: Record<string, string> = {}): readonly string[] {
  try {
    parseConfig(text, "test.yaml", { env });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("logging: defaults to level info, the access log on and prompts never logged", () => {
  const config = parseConfig("", "t", { env: {} });
  assert.deepEqual(config.logging, { level: "info", access_log: true, log_prompts: false });
});

Deno.test("TURNPIKE_LOG_LEVEL overrides logging.level, in any case, and an empty one counts as unset", () => {
  const text = "logging: {level: warn, access_log: false}";
  const config = parseConfig(text, "t", { env: { TURNPIKE_LOG_LEVEL: "DEBUG" } });
  assert.equal(config.logging.level, "debug");
  assert.equal(config.logging.access_log, false);
  assert.equal(parseConfig(text, "t", { env: { TURNPIKE_LOG_LEVEL: "" } }).logging.level, "warn");
});

Deno.test("a bad logging: setting names its YAML path, and a bad TURNPIKE_LOG_LEVEL names the variable", () => {
  const [level] = problemsOf("logging: {level: verbose}");
  assert.match(level!, /^logging\.level: /);
  const [unknown] = problemsOf("logging: {log_prompt: true}");
  assert.match(unknown!, /^logging\.log_prompt: /);
  assert.deepEqual(problemsOf("", { TURNPIKE_LOG_LEVEL: "loud" }), [
    'TURNPIKE_LOG_LEVEL (environment): expected one of debug, info, warn, error, got "loud"; fix or unset it',
  ]);
});

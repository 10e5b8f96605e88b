import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { ConfigError, parseConfig } from "./loader.ts";

function problemsOf(yaml: string): readonly string[] {
  try {
    parseConfig(yaml, "test.yaml", { env: {} });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

Deno.test("auth: defaults to off, with RS256 and ES256 and 30 s of clock skew for JWTs", () => {
  const config = parseConfig("auth: { jwt: { jwks_url: 'https://idp.test/jwks' } }", "t", {
    env: {},
  });
  assertEquals(config.auth.enabled, false);
  assertEquals(config.auth.priority_header, false);
  assertEquals(config.auth.key_refresh_interval, 2);
  assertEquals(config.auth.jwt?.algorithms, ["RS256", "ES256"]);
  assertEquals(config.auth.jwt?.clock_tolerance, 30);
  assertEquals(config.auth.jwt?.claims.client_id, "sub");
  assertEquals(parseConfig("{}", "t", { env: {} }).auth.jwt, undefined);
});

Deno.test("auth: problems name their YAML path", () => {
  const cases: [string, RegExp][] = [
    ["auth: { jwt: { issuer: x } }", /^auth\.jwt: set public_key_file or jwks_url/],
    [
      "auth: { jwt: { public_key_file: a.pem, jwks_url: 'https://x/j' } }",
      /^auth\.jwt: .*not both/,
    ],
    [
      "auth: { jwt: { jwks_url: 'https://x/j', algorithms: [HS256] } }",
      /^auth\.jwt\.algorithms\[0\]/,
    ],
    ["auth: { admin_key: short }", /^auth\.admin_key: .*16/],
    ["auth: { admin_key_env: 'not a name' }", /^auth\.admin_key_env:/],
    ["auth: { default_priority: urgent }", /^auth\.default_priority:/],
    ["auth: { enable: true }", /^auth\.enable/],
  ];
  for (const [yaml, expected] of cases) {
    const problems = problemsOf(yaml);
    assert(problems.some((p) => expected.test(p)), `${yaml}: ${problems.join(" | ")}`);
  }
});

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { parse } from "yaml";
import { parseConfig } from "../../config/mod.ts";
import { gatewayConfig, replicaArgs, replicaCacheTokens } from "./setup.ts";

const base = { timeScale: 10, model: "m" };

function prefixCacheTokens(options: Parameters<typeof gatewayConfig>[2]): unknown {
  return parse(gatewayConfig(["http://a"], 1234, options)).proxy.prefix_cache_tokens;
}

Deno.test("replicaArgs passes a host tier to the simulator as vLLM's offloading flags", () => {
  const args = replicaArgs(4, { ...base, kvTokens: 100_000, kvOffloadGib: 2.5 });
  const after = (flag: string) => args[args.indexOf(flag) + 1];
  assertEquals(after("--replicas"), "4");
  assertEquals(after("--kv-tokens"), "100000");
  assertEquals(after("--kv-offloading-size"), "2.5");
  assertEquals(after("--kv-offloading-backend"), "native");
  for (const plain of [replicaArgs(1, base), replicaArgs(1, { ...base, kvOffloadGib: 0 })]) {
    assertEquals(plain.some((a) => a.startsWith("--kv-offloading")), false);
  }
});

Deno.test("gatewayConfig sizes the prefix index to the replica's GPU plus host tokens", () => {
  const gateway = { ...base, strategy: "prefix_aware" as const, dir: "/tmp/x" };
  assertEquals(replicaCacheTokens(undefined, 4), 430_000 + 4 * 8192);
  assertEquals(prefixCacheTokens({ ...gateway, kvOffloadGib: 4 }), 430_000 + 4 * 8192);
  assertEquals(prefixCacheTokens({ ...gateway, kvTokens: 100_000, kvOffloadGib: 1 }), 108_192);
  assertEquals(prefixCacheTokens({ ...gateway, kvTokens: 100_000 }), 100_000);
  assertEquals(prefixCacheTokens(gateway), undefined);
});

Deno.test("gatewayConfig forwards every request at once unless admission control's defaults are kept", () => {
  const gateway = { ...base, strategy: "prefix_aware" as const, dir: "/tmp/x" };
  assertEquals(parse(gatewayConfig(["http://a"], 1234, gateway)).admission, { enabled: false });
  const admitted = parse(gatewayConfig(["http://a"], 1234, { ...gateway, gatewayAdmission: true }));
  assertEquals(admitted.admission, undefined);
  // The gateway takes the config as it is written.
  const config = parseConfig(gatewayConfig(["http://a"], 1234, gateway), "bench.yaml");
  assertEquals(config.admission.enabled, false);
  const capped = parseConfig(
    gatewayConfig(["http://a"], 1234, { ...gateway, fixedCaps: true }),
    "bench.yaml",
  );
  assertEquals([capped.admission.enabled, capped.admission.adaptive], [true, false]);
});

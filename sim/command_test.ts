import { assert, assertEquals } from "./_assert.ts";
import { UsageError } from "../config/cli.ts";
import { parseSimArgs, startReplicas } from "./command.ts";

Deno.test("parseSimArgs() reads every flag into simulator options", () => {
  const plan = parseSimArgs([
    "--port",
    "6001",
    "--model",
    "m",
    "--time-scale",
    "10",
    "--kv-tokens",
    "100000",
    "--seed",
    "4",
    "--tokenizer",
    "approx",
    "--error-rate",
    "0.1",
    "--startup-delay-ms",
    "500",
    "--slow-token-ms",
    "3",
  ]);
  assertEquals(plan.ports, [6001]);
  assertEquals(plan.options, {
    model: "m",
    timeScale: 10,
    kvTokens: 100000,
    seed: 4,
    tokenizer: "approx",
    errorRate: 0.1,
    startupDelayMs: 500,
    slowTokenMs: 3,
  });
});

Deno.test("parseSimArgs() gives --replicas consecutive ports from --base-port", () => {
  assertEquals(parseSimArgs(["--replicas", "3", "--base-port", "7000"]).ports, [7000, 7001, 7002]);
  assertEquals(parseSimArgs([]).ports, [5901]);
});

Deno.test("parseSimArgs() rejects bad values with a usage error", () => {
  for (
    const args of [["--time-scale", "0"], ["--tokenizer", "bpe"], ["--error-rate", "2"], [
      "--replicas",
      "1.5",
    ], ["--bogus"]]
  ) {
    let error: unknown;
    try {
      parseSimArgs(args);
    } catch (e) {
      error = e;
    }
    assert(error instanceof UsageError, `expected a usage error for ${args.join(" ")}`);
  }
});

Deno.test("startReplicas() starts one server per replica on its own port", async () => {
  const servers = await startReplicas(
    parseSimArgs(["--replicas", "3", "--base-port", "0", "--tokenizer", "approx"]),
  );
  try {
    assertEquals(servers.length, 3);
    assertEquals(new Set(servers.map((s) => s.port)).size, 3);
    for (const s of servers) {
      const r = await fetch(`${s.url}/v1/models`);
      assertEquals((await r.json()).data[0].id, "llama-3.1-8b-sim");
    }
  } finally {
    await Promise.all(servers.map((s) => s.close()));
  }
});

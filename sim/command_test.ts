import { assert, assertEquals } from "./_assert.ts";
import { UsageError } from "../config/mod.ts";
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

Deno.test("parseSimArgs() reads vLLM's KV offloading flags: GiB of host memory as tokens, the native backend", () => {
  const plan = parseSimArgs([
    "--kv-offloading-backend",
    "native",
    "--kv-offloading-size",
    "2.5",
    "--kv-offload-bandwidth",
    "64",
  ]);
  assertEquals(plan.options, { offloadTokens: 2.5 * 8192, offloadBandwidthBytesPerS: 64e9 });
  assertEquals(parseSimArgs(["--kv-offloading-size", "0"]).options, { offloadTokens: 0 });
});

Deno.test("parseSimArgs() gives --replicas consecutive ports from --base-port", () => {
  assertEquals(parseSimArgs(["--replicas", "3", "--base-port", "7000"]).ports, [7000, 7001, 7002]);
  assertEquals(parseSimArgs([]).ports, [5901]);
});

Deno.test("parseSimArgs() rejects bad values with a usage error", () => {
  for (
    const args of [
      ["--time-scale", "0"],
      ["--tokenizer", "bpe"],
      ["--error-rate", "2"],
      [
        "--replicas",
        "1.5",
      ],
      ["--bogus"],
      ["--kv-offloading-size", "-1"],
      ["--kv-offload-bandwidth", "0"],
      [
        "--kv-offloading-backend",
        "lmcache",
      ],
    ]
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

Deno.test("sim with an offloading backend other than native exits 2 and says which one it takes", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../main.ts", import.meta.url).pathname,
      "sim",
      "--kv-offloading-backend",
      "lmcache",
    ],
    stdin: "null",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assertEquals(output.code, 2, stderr);
  assert(
    stderr.startsWith(
      '--kv-offloading-backend must be native (the only one simulated), got "lmcache"',
    ),
    stderr,
  );
});

Deno.test("parseSimArgs() reads --scheduling-policy and rejects an unknown one", () => {
  assertEquals(
    parseSimArgs(["--scheduling-policy", "priority"]).options.schedulingPolicy,
    "priority",
  );
  assertEquals(parseSimArgs([]).options.schedulingPolicy, undefined);
  let error: unknown;
  try {
    parseSimArgs(["--scheduling-policy", "lifo"]);
  } catch (e) {
    error = e;
  }
  assert(error instanceof UsageError && error.message.includes("fcfs or priority"));
});

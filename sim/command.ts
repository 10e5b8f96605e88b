/** `deno task sim`: runs one or more simulated vLLM replicas until interrupted. */
import { type Command, numberFlag, parseFlags, UsageError } from "../config/mod.ts";
import { installShutdownHandlers } from "../actors/runtime/mod.ts";
import {
  DEFAULT_SIM_MODEL,
  type SimServer,
  type SimulatorOptions,
  startSimulator,
} from "./server.ts";
import { kvTokensInGib } from "./host_tier.ts";

const usage = [
  "Usage: deno task sim [options]",
  "",
  "Runs simulated vLLM replicas (an 8B model on an H100) with an OpenAI-compatible API.",
  "",
  "Options:",
  "  --port P                 port of a single replica (0 = any free port) [5901]",
  "  --replicas N             replicas to start, on ports base-port .. base-port+N-1 [1]",
  "  --base-port P            first port when --replicas is given [--port]",
  "  --host H                 interface to bind [127.0.0.1]",
  `  --model NAME             served model name [${DEFAULT_SIM_MODEL}]`,
  "  --time-scale F           run F times faster than real time [1]",
  "  --kv-tokens T            KV cache budget in tokens [430000]",
  "  --kv-offloading-size GIB  host (CPU) KV tier, 8192 tokens a GiB: computed blocks are copied",
  "                           there and loaded back, not recomputed, on a hit [0: no tier]",
  "  --kv-offloading-backend native  the only offloading backend simulated [native]",
  "  --kv-offload-bandwidth GBPS  host-to-GPU link for those loads, GB/s (not vLLM's) [32]",
  "  --seed S                 seed of output text and fault draws [0]",
  "  --tokenizer MODE         exact (Llama 3 tokenizer) or approx (4 chars a token) [exact]",
  "  --max-num-seqs N         most sequences in a batch [256]",
  "  --max-num-batched-tokens N  most tokens per engine step [8192]",
  "  --max-model-len N        longest prompt plus output [131072]",
  "  --scheduling-policy P    fcfs, or priority: waiting requests by their priority field",
  "                           (lower first), then arrival; fcfs rejects a priority other than 0 [fcfs]",
  "  --startup-delay-ms MS    answer 503 (model loading) for this long after start [0]",
  "  --error-rate R           fraction of requests answered 500 [0]",
  "  --hang-rate R            fraction of requests that never answer [0]",
  "  --cut-rate R             fraction of streams cut mid-way [0]",
  "  --cut-after-tokens N     tokens sent before a cut [1]",
  "  --slow-token-ms MS       extra simulated ms per engine step [0]",
  "",
  'Faults can be changed at run time: POST /admin/faults {"error_rate":0.1,...}, DELETE /admin/faults.',
  "Chat requests may carry tools, tool_choice and parallel_tool_calls: calls are answered and",
  "streamed as vLLM's llama3_json tool parser does (--enable-auto-tool-choice).",
].join("\n");

const flags = {
  port: { type: "string" },
  replicas: { type: "string" },
  "base-port": { type: "string" },
  host: { type: "string" },
  model: { type: "string" },
  "time-scale": { type: "string" },
  "kv-tokens": { type: "string" },
  "kv-offloading-size": { type: "string" },
  "kv-offloading-backend": { type: "string" },
  "kv-offload-bandwidth": { type: "string" },
  seed: { type: "string" },
  tokenizer: { type: "string" },
  "max-num-seqs": { type: "string" },
  "max-num-batched-tokens": { type: "string" },
  "max-model-len": { type: "string" },
  "scheduling-policy": { type: "string" },
  "startup-delay-ms": { type: "string" },
  "error-rate": { type: "string" },
  "hang-rate": { type: "string" },
  "cut-rate": { type: "string" },
  "cut-after-tokens": { type: "string" },
  "slow-token-ms": { type: "string" },
} as const;

/** Parsed `sim` command line. */
export interface SimCommandPlan {
  /** Ports to listen on, one per replica. */
  ports: number[];
  /** Options shared by every replica (port excluded). */
  options: SimulatorOptions;
}

function setIf<K extends keyof SimulatorOptions>(
  options: SimulatorOptions,
  key: K,
  value: SimulatorOptions[K] | undefined,
): void {
  if (value !== undefined) options[key] = value;
}

/** Parses the `sim` arguments; throws a UsageError on a bad command line. */
export function parseSimArgs(args: string[]): SimCommandPlan {
  const { values } = parseFlags(args, flags, usage);
  const num = (name: keyof typeof flags) => numberFlag(values[name], name, usage);
  const nonNegative = (name: keyof typeof flags) => {
    const n = num(name);
    if (n !== undefined && n < 0) throw new UsageError(`--${name} must not be negative`, usage);
    return n;
  };
  const rate = (name: keyof typeof flags) => {
    const n = num(name);
    if (n !== undefined && (n < 0 || n > 1)) {
      throw new UsageError(`--${name} must be between 0 and 1`, usage);
    }
    return n;
  };
  const positiveInt = (name: keyof typeof flags) => {
    const n = num(name);
    if (n !== undefined && (!Number.isInteger(n) || n < 1)) {
      throw new UsageError(`--${name} must be a positive integer`, usage);
    }
    return n;
  };
  const replicas = positiveInt("replicas") ?? 1;
  const port = num("port");
  const basePort = num("base-port") ?? port ?? 5901;
  for (const p of [port, basePort]) {
    if (p !== undefined && (!Number.isInteger(p) || p < 0 || p > 65535)) {
      throw new UsageError("--port and --base-port must be ports from 0 to 65535", usage);
    }
  }
  if (basePort === 0 ? false : basePort + replicas - 1 > 65535) {
    throw new UsageError(
      "--base-port plus --replicas runs past port 65535: choose a lower base port",
      usage,
    );
  }
  const ports = Array.from({ length: replicas }, (_, i) => basePort === 0 ? 0 : basePort + i);
  const timeScale = num("time-scale");
  if (timeScale !== undefined && !(timeScale > 0)) {
    throw new UsageError("--time-scale must be positive", usage);
  }
  const tokenizer = values.tokenizer;
  if (tokenizer !== undefined && tokenizer !== "exact" && tokenizer !== "approx") {
    throw new UsageError(`--tokenizer must be exact or approx, got "${tokenizer}"`, usage);
  }
  const policy = values["scheduling-policy"];
  if (policy !== undefined && policy !== "fcfs" && policy !== "priority") {
    throw new UsageError(`--scheduling-policy must be fcfs or priority, got "${policy}"`, usage);
  }
  const backend = values["kv-offloading-backend"];
  if (backend !== undefined && backend !== "native") {
    throw new UsageError(
      `--kv-offloading-backend must be native (the only one simulated), got "${backend}"`,
      usage,
    );
  }
  const offloadGib = nonNegative("kv-offloading-size");
  const bandwidth = num("kv-offload-bandwidth");
  if (bandwidth !== undefined && !(bandwidth > 0)) {
    throw new UsageError("--kv-offload-bandwidth must be positive", usage);
  }
  const options: SimulatorOptions = {};
  setIf(options, "hostname", values.host);
  setIf(options, "model", values.model);
  setIf(options, "timeScale", timeScale);
  setIf(options, "kvTokens", positiveInt("kv-tokens"));
  setIf(options, "offloadTokens", offloadGib === undefined ? undefined : kvTokensInGib(offloadGib));
  setIf(
    options,
    "offloadBandwidthBytesPerS",
    bandwidth === undefined ? undefined : bandwidth * 1e9,
  );
  setIf(options, "seed", num("seed"));
  setIf(options, "tokenizer", tokenizer);
  setIf(options, "maxNumSeqs", positiveInt("max-num-seqs"));
  setIf(options, "maxNumBatchedTokens", positiveInt("max-num-batched-tokens"));
  setIf(options, "maxModelLen", positiveInt("max-model-len"));
  setIf(options, "schedulingPolicy", policy);
  setIf(options, "startupDelayMs", nonNegative("startup-delay-ms"));
  setIf(options, "errorRate", rate("error-rate"));
  setIf(options, "hangRate", rate("hang-rate"));
  setIf(options, "cutRate", rate("cut-rate"));
  setIf(options, "cutAfterTokens", nonNegative("cut-after-tokens"));
  setIf(options, "slowTokenMs", nonNegative("slow-token-ms"));
  return { ports, options };
}

/** Starts the replicas of `plan`; closes those already started if one fails. */
export async function startReplicas(plan: SimCommandPlan): Promise<SimServer[]> {
  const servers: SimServer[] = [];
  try {
    for (const port of plan.ports) servers.push(await startSimulator({ ...plan.options, port }));
  } catch (error) {
    await Promise.all(servers.map((s) => s.close()));
    throw error;
  }
  return servers;
}

/** The `sim` subcommand. */
export const simCommand: Command = {
  name: "sim",
  summary: "run simulated vLLM replicas (OpenAI API, vLLM metrics, faults)",
  usage,
  async run(args) {
    const plan = parseSimArgs(args);
    const servers = await startReplicas(plan);
    for (const s of servers) console.log(`sim: ${s.model} listening on ${s.url}`);
    const close = async () => void await Promise.all(servers.map((s) => s.close()));
    return await installShutdownHandlers({ shutdown: close }, { exit: false }).stopped;
  },
};

/** The zod schema of turnpike's YAML config: the users' contract (`proxy`, `cluster`, `models`, `headers`). */
import { z } from "zod";
import { SessionsSchema } from "./sessions_schema.ts";
import { RecordsSchema } from "./records_schema.ts";
import { AdmissionSchema } from "./admission_schema.ts";
import { HttpLimitsFields } from "./http_limits_schema.ts";
import { LimitsSchema } from "./limits_schema.ts";
import { AuthSchema } from "./auth_schema.ts";
import { LoggingSchema } from "./logging_schema.ts";
import { SloSchema } from "./slo_schema.ts";
import { checkCluster, checkModelSlurm, ClusterSchema, ModelSlurmFields } from "./slurm_schema.ts";
export { ClusterSchema } from "./slurm_schema.ts";
import {
  CommandTemplateError,
  commandTemplateOf,
  isPlaceholder,
  PLACEHOLDERS,
  placeholdersIn,
  splitCommand,
} from "./command_template.ts";
import { closest } from "./suggest.ts";
import { STRATEGY_NAMES } from "../actors/router/strategies/mod.ts";

const strategyName = z.enum(STRATEGY_NAMES);

/** The clients `proxy.upstream_client` may name: turnpike's own HTTP/1.1 client or Deno's `fetch`. */
export const UPSTREAM_TRANSPORTS = ["http1", "fetch"] as const;
const positiveInt = z.number().int().positive();
const port = z.number().int().min(1).max(65535);
const seconds = z.number().positive();

/**
 * `proxy.strategy`: one strategy by name, or several combined with weights
 * (`{prefix_aware: 2, least_load: 1}`).
 */
export const StrategySchema = z.union([
  strategyName,
  z.partialRecord(strategyName, z.number().positive()).refine(
    (weights) => Object.keys(weights).length > 0,
    "expected at least one strategy with a weight",
  ),
]);

/** `proxy:` the gateway's own settings. */
/**
 * `proxy.load_bound`'s default. 2 rather than 1.5: on the virtual clock (bench routing --virtual,
 * Mooncake trace) 1.5 shed a conversation off its replica so often that prefix hits fell to 92%
 * of perfect affinity (GPU cache only) and mean/p99 TTFT rose (123/793 ms against 116/710 at 2).
 */
export const DEFAULT_LOAD_BOUND = 2;

export const ProxySchema = z.strictObject({
  host: z.string().min(1).default("127.0.0.1"),
  port: port.default(5800),
  strategy: StrategySchema.default("prefix_aware"),
  /** Seconds between health probes of each replica. */
  health_check_interval: seconds.default(30),
  /** Seconds a request may take end to end before the gateway answers 504. */
  request_timeout: seconds.default(300),
  /**
   * Seconds a stopping gateway (SIGTERM, SIGINT) lets the requests in flight finish while it
   * answers new ones 503; then it stops anyway. @default 30
   */
  drain_timeout: seconds.default(30),
  /**
   * Seconds a TCP connect to a replica may take; past it the request goes to another replica.
   * @default 3
   */
  connect_timeout: seconds.default(3),
  /**
   * Seconds from a streamed request written to its response head; past it the gateway answers 504
   * without a retry. vLLM sends a stream's head at once but a non-streamed answer's only when the
   * generation is done, so non-streamed requests are bounded by `request_timeout` alone.
   * @default 60
   */
  first_byte_timeout: seconds.default(60),
  /** Requests in flight per replica; more wait in line, first come first served. @default 512 */
  max_connections_per_backend: positiveInt.default(512),
  /** Seconds an idle keep-alive connection to a replica is kept, below uvicorn's 5. @default 4 */
  pool_idle_timeout: seconds.default(4),
  /** How the gateway talks to `http:` replicas: its own HTTP/1.1 client or Deno's `fetch`. @default "http1" */
  upstream_client: z.enum(UPSTREAM_TRANSPORTS).default("http1"),
  /** Largest request body accepted, in bytes (413 above it). */
  max_body_bytes: positiveInt.default(32 * 1024 * 1024),
  /** How many other backends a request may be retried on before its first byte. */
  max_retries: z.number().int().min(0).default(2),
  /** Consecutive failures that open a backend's circuit. */
  circuit_failure_threshold: positiveInt.default(3),
  /** Seconds an open circuit waits before a half-open probe. */
  circuit_open_seconds: seconds.default(10),
  /** Seconds between scrapes of each replica's vLLM `/metrics`. */
  metrics_scrape_interval: seconds.default(2),
  /**
   * A sticky or prefix-matched replica keeps its traffic while its load stays within
   * this factor of the mean load (plus one request).
   */
  load_bound: z.number().min(1).default(DEFAULT_LOAD_BOUND),
  /** Characters per prefix block hashed by `prefix_aware` (about 512 tokens of English). */
  prefix_block_chars: positiveInt.default(2048),
  /** Prompt tokens a replica's prefix cache holds, for the router's estimate of it. */
  prefix_cache_tokens: positiveInt.default(430_000),
  /**
   * Whether the router corrects its estimate of each replica's prefix cache from the replica's
   * reports (`usage.prompt_tokens_details.cached_tokens`); false keeps it open loop. @default true
   */
  prefix_feedback: z.boolean().default(true),
  /**
   * Whether this gateway process shares through KV which replica it sent each prompt's prefix to
   * (and how much of it that replica must prefill, until its first token), and takes in the other
   * processes' placements, so that each prefix index, and each count of prefill queued at a
   * replica, sees the traffic of every gateway on the store. @default true
   */
  share_placements: z.boolean().default(true),
  /** Seconds between the writes and reads of the shared placements. */
  placement_share_interval: seconds.max(60).default(0.025),
  /** Seconds between reads of the backend registrations every gateway process shares in KV. */
  registration_sync_interval: seconds.default(1),
  /** The per-request records every gateway process shares in KV. */
  records: RecordsSchema.default(RecordsSchema.parse({})),
  ...HttpLimitsFields,
});

/** One entry of `models:`; either launched (`replicas`, `command`) or static (`endpoints`). */
export const ModelSchema = z.strictObject({
  name: z.string().min(1),
  model_path: z.string().min(1).optional(),
  base_port: port.default(5900),
  /** Replicas to launch; ignored for a model with `endpoints`. */
  replicas: positiveInt.default(1),
  gpu_memory_utilization: z.number().gt(0).max(1).default(0.9),
  tensor_parallel_size: positiveInt.default(1),
  max_model_len: positiveInt.optional(),
  /**
   * Command template that starts one replica; `{port}`, `{model_path}`, `{name}`,
   * `{gpu_memory_utilization}`, `{tensor_parallel_size}`, `{max_model_len}` are filled in.
   * Split into words like a shell would, but run without one. Defaults to `vllm serve`
   * (see config/command_template.ts).
   */
  command: z.string().min(1).optional(),
  /** Replicas that already run elsewhere: listed, not launched. */
  endpoints: z.array(z.url({ protocol: /^https?$/ })).min(1).optional(),
  /** Seconds a launched replica may take to become healthy. */
  startup_timeout: seconds.default(900),
  /**
   * vLLM's `--scheduling-policy` of its replicas: with `priority` each request carries vLLM's
   * `priority` field from its class (`admission.vllm_priority`), and launched replicas get the flag.
   */
  scheduling_policy: z.enum(["fcfs", "priority"]).default("fcfs"),
  ...ModelSlurmFields,
}).superRefine((model, ctx) => {
  checkModelSlurm(model, ctx);
  if (model.endpoints) {
    if (model.command !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["command"],
        message: "a model with endpoints is not launched; remove command or endpoints",
      });
    }
    return;
  }
  const template = commandTemplateOf(model);
  const where = model.command === undefined ? "the default vllm command" : "command";
  try {
    splitCommand(template);
  } catch (error) {
    if (!(error instanceof CommandTemplateError)) throw error;
    ctx.addIssue({ code: "custom", path: ["command"], message: `the template ${error.message}` });
    return;
  }
  for (const name of placeholdersIn(template)) {
    if (!isPlaceholder(name)) {
      const hint = closest(name, PLACEHOLDERS);
      ctx.addIssue({
        code: "custom",
        path: ["command"],
        message: `unknown placeholder {${name}}` +
          (hint
            ? `, did you mean {${hint}}?`
            : `; use one of ${PLACEHOLDERS.map((p) => `{${p}}`).join(", ")}`),
      });
    } else if (name !== "port" && model[name] === undefined) {
      ctx.addIssue({
        code: "custom",
        path: [name],
        message: `required to launch this model (${where} uses {${name}}); ` +
          "set it, or list endpoints for replicas that already run",
      });
    }
  }
});

/** `headers:` the request headers turnpike reads per agent turn. */
export const HeadersSchema = z.strictObject({
  session: z.string().min(1).default("X-Session-ID"),
  task: z.string().min(1).default("X-Task-ID"),
  client: z.string().min(1).default("X-Client-ID"),
  timing_pre: z.string().min(1).default("X-Timing-Pre-Ms"),
  timing_post: z.string().min(1).default("X-Timing-Post-Ms"),
  /** The priority class a request asks for (`high`, `medium`, `low`) when its key lets it choose or auth is off. */
  priority: z.string().min(1).default("X-Priority"),
});

/** The whole config file. */
export const ConfigSchema = z.strictObject({
  proxy: ProxySchema.default(ProxySchema.parse({})),
  cluster: ClusterSchema.default(ClusterSchema.parse({})),
  models: z.array(ModelSchema).default([]),
  headers: HeadersSchema.default(HeadersSchema.parse({})),
  sessions: SessionsSchema.default(SessionsSchema.parse({})),
  /** In-flight caps per replica, the queue per model, priority classes and early shedding. */
  admission: AdmissionSchema.default(AdmissionSchema.parse({})),
  /** Rate, token and concurrency limits per client and per model. */
  limits: LimitsSchema.default(LimitsSchema.parse({})),
  auth: AuthSchema.default(AuthSchema.parse({})),
  /** JSON log lines on stderr: level, access log, prompts. */
  logging: LoggingSchema.default(LoggingSchema.parse({})),
  /** Objectives per model (p95 TTFT, p95 inter-token latency, error rate), their burn, routing canaries. */
  slo: SloSchema.default(SloSchema.parse({})),
  /** Directory of the KV file; `TURNPIKE_STATE_DIR` overrides it. */
  state_dir: z.string().min(1).default(".turnpike"),
}).superRefine((config, ctx) => {
  const seen = new Set<string>();
  config.models.forEach((model, i) => {
    if (seen.has(model.name)) {
      ctx.addIssue({
        code: "custom",
        path: ["models", i, "name"],
        message: `duplicate model name "${model.name}"`,
      });
    }
    seen.add(model.name);
  });
  if (config.cluster.type === "local") checkLocalPorts(config, ctx);
  checkCluster(config, ctx);
  if (config.cluster.type === "slurm" && !config.cluster.slurm) {
    ctx.addIssue({
      code: "custom",
      path: ["cluster", "slurm"],
      message: 'required when cluster.type is "slurm"',
    });
  }
});

/**
 * On one machine every launched replica needs its own port: `base_port` up to
 * `base_port + replicas - 1`, apart from other models' ranges and the gateway's port.
 */
function checkLocalPorts(
  config: {
    proxy: { port: number };
    models: {
      name: string;
      base_port: number;
      replicas: number;
      endpoints?: string[] | undefined;
    }[];
  },
  ctx: z.RefinementCtx,
): void {
  const taken: { first: number; last: number; owner: string }[] = [
    { first: config.proxy.port, last: config.proxy.port, owner: "proxy.port" },
  ];
  config.models.forEach((model, i) => {
    if (model.endpoints) return;
    const first = model.base_port;
    const last = first + model.replicas - 1;
    const range = first === last ? `port ${first}` : `ports ${first}-${last}`;
    if (last > 65535) {
      ctx.addIssue({
        code: "custom",
        path: ["models", i, "base_port"],
        message: `${model.replicas} replicas need ${range}, past 65535; lower base_port`,
      });
      return;
    }
    const clash = taken.find((t) => first <= t.last && t.first <= last);
    if (clash) {
      ctx.addIssue({
        code: "custom",
        path: ["models", i, "base_port"],
        message: `${range} ${first === last ? "overlaps" : "overlap"} ${clash.owner} (${
          clash.first === clash.last ? clash.first : `${clash.first}-${clash.last}`
        }); give each launched model its own base_port`,
      });
    }
    taken.push({ first, last, owner: `models[${i}] "${model.name}"` });
  });
}

/** A parsed, defaulted config. */
export type Config = z.infer<typeof ConfigSchema>;
/** One parsed `models:` entry. */
export type ModelConfig = z.infer<typeof ModelSchema>;
/** The parsed `proxy:` section. */
export type ProxyConfig = z.infer<typeof ProxySchema>;
/** The parsed `headers:` section. */
export type HeadersConfig = z.infer<typeof HeadersSchema>;

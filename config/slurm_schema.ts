/** `cluster:` in config (local GPUs, or a SLURM cluster over its CLI or slurmrestd, over SSH or here) and the `models[]` fields for SLURM jobs, capacity planning and autoscaling. */
import { z } from "zod";
import { parseSlurmDuration } from "../cluster/slurm/duration.ts";

const positiveInt = z.number().int().positive();
const port = z.number().int().min(1).max(65535);
const seconds = z.number().positive();

/** A SLURM time limit (`04:00:00`, `1-00:00:00`, `90` minutes), as sbatch's `--time` takes it. */
export const SlurmDurationSchema = z.string().min(1).refine(
  (text) => typeof parseSlurmDuration(text) === "number" && parseSlurmDuration(text)! > 0,
  {
    message: 'expected a SLURM time limit such as "04:00:00", "1-00:00:00" or "90" (minutes); ' +
      "quote it in YAML",
  },
);

/**
 * A value of an `#SBATCH` line: sbatch splits those lines at whitespace, so a value holding any is
 * refused here rather than mangled there.
 */
const sbatchWord = z.string().min(1).refine((text) => !/\s/.test(text), {
  message: "must not contain spaces (it goes on an #SBATCH line)",
});

/** `[user@]host[:port]`, the form OpenSSH's ProxyJump takes. */
const PROXY_JUMP_PATTERN = /^(?:[^@\s:]+@)?(?:\[[0-9A-Fa-f:.]+\]|[^@\s:\[\]]+)(?::\d{1,5})?$/;

/** `cluster.slurm.ssh:` the login node SLURM's commands run on; absent, they run here. */
export const SlurmSshSchema = z.strictObject({
  host: z.string().min(1),
  port: port.default(22),
  user: z.string().min(1),
  /** A private key file (`~` expanded); tried with `agent` when both are set. */
  key: z.string().min(1).optional(),
  /** Authenticate with the keys of the agent at `SSH_AUTH_SOCK`. @default false */
  agent: z.boolean().default(false),
  /** The known_hosts file the host key is checked against (`~` expanded). */
  known_hosts: z.string().min(1).default("~/.ssh/known_hosts"),
  /** Accept (and record) a host key known_hosts does not list yet; a changed key is refused. */
  accept_new_host_key: z.boolean().default(false),
  /** A bastion to jump through, `[user@]host[:port]`, as OpenSSH's ProxyJump. */
  proxy_jump: z.string().refine((text) => PROXY_JUMP_PATTERN.test(text), {
    message: 'expected "[user@]host[:port]", for example "alice@bastion.example.org:22"',
  }).optional(),
  /** Seconds between keepalive probes on the SSH connection. @default 15 */
  keepalive_interval: seconds.default(15),
});

/** `cluster.slurm.rest:` slurmrestd, when `api: rest`. */
export const SlurmRestSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  /** The user in `X-SLURM-USER-NAME`. */
  user: z.string().min(1),
  /** A JWT for `X-SLURM-USER-TOKEN` (`scontrol token`); or `token_command` to fetch and refresh one. */
  token: z.string().min(1).optional(),
  /** Prints `SLURM_JWT=...` or the bare token; run (over ssh when set) at start and before expiry. */
  token_command: z.string().min(1).optional(),
  /** Seconds a token from `token_command` lives; it is refreshed before that. @default 3600 */
  token_lifespan: positiveInt.default(3600),
}).superRefine((rest, ctx) => {
  if ((rest.token === undefined) === (rest.token_command === undefined)) {
    ctx.addIssue({
      code: "custom",
      path: rest.token === undefined ? ["token"] : ["token_command"],
      message: rest.token === undefined
        ? "required: set token, or token_command to fetch one (for example " +
          '"scontrol token lifespan=3600")'
        : "set token or token_command, not both",
    });
  }
});

/** One entry of `cluster.slurm.partitions:`; partitions are tried by `priority`, highest first. */
export const PartitionSchema = z.strictObject({
  name: sbatchWord,
  qos: sbatchWord.optional(),
  account: sbatchWord.optional(),
  gpus_per_node: positiveInt.default(1),
  priority: z.number().int().default(1),
  /** Memory of one GPU in GB, for `jobs plan`'s capacity check. */
  gpu_memory_gb: z.number().positive().optional(),
  reservation: sbatchWord.optional(),
  /** `--constraint`, node features (`a100`, `a100&ib`). */
  constraint: sbatchWord.optional(),
  /** The longest `--time` this partition allows; a model's `time` is capped to it. */
  max_time: SlurmDurationSchema.optional(),
  /** Nodes a multi-node job may use here (a model with more GPUs than one node has). @default 1 */
  max_nodes: positiveInt.default(1),
});

/** `cluster.slurm.backoff:` the delay before a replica's next submit, doubling from `initial`. */
export const BackoffSchema = z.strictObject({
  initial: seconds.default(5),
  max: seconds.default(300),
}).superRefine((backoff, ctx) => {
  if (backoff.max < backoff.initial) {
    ctx.addIssue({
      code: "custom",
      path: ["max"],
      message: `must be at least initial (${backoff.initial})`,
    });
  }
});

/** `cluster.slurm:` how turnpike reaches SLURM and submits each replica. */
export const SlurmSchema = z.strictObject({
  /** `cli`: sbatch/squeue/sacct/scancel (over `ssh` when set); `rest`: slurmrestd. @default "cli" */
  api: z.enum(["cli", "rest"]).default("cli"),
  partitions: z.array(PartitionSchema).min(1),
  ssh: SlurmSshSchema.optional(),
  rest: SlurmRestSchema.optional(),
  /** Seconds between squeue polls. @default 10 */
  poll_interval: seconds.default(10),
  /** Seconds a job may stay PENDING before the next partition is tried. @default 600 */
  pending_timeout: seconds.default(600),
  /** Submits per replica before it is failed. @default 5 */
  max_attempts: positiveInt.default(5),
  backoff: BackoffSchema.default(BackoffSchema.parse({})),
  /** Directory on the cluster for job scripts and outputs (`~` is the cluster user's home). */
  job_dir: sbatchWord.default("~/.turnpike/jobs"),
  /**
   * Seconds before the time limit that the job gets USR1 and its replacement is started (SLURM
   * takes up to 65535). @default 300
   */
  signal_lead: positiveInt.max(65535).default(300),
}).superRefine((slurm, ctx) => {
  if (slurm.api === "rest" && slurm.rest === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["rest"],
      message: 'required when api is "rest": give slurmrestd\'s url, user and token',
    });
  }
  const seen = new Set<string>();
  slurm.partitions.forEach((partition, i) => {
    if (seen.has(partition.name)) {
      ctx.addIssue({
        code: "custom",
        path: ["partitions", i, "name"],
        message: `duplicate partition "${partition.name}"`,
      });
    }
    seen.add(partition.name);
  });
});

/** `cluster:` where launched replicas run. */
export const ClusterSchema = z.strictObject({
  type: z.enum(["local", "slurm"]).default("local"),
  /** For `type: local`: GPU ids handed out as `CUDA_VISIBLE_DEVICES`, `tensor_parallel_size` per replica. */
  gpus: z.array(z.number().int().min(0)).min(1).optional(),
  slurm: SlurmSchema.optional(),
});

/** `models[].autoscale:` replicas follow the router's view of load, between `min` and `max`. */
export const AutoscaleSchema = z.strictObject({
  min: positiveInt.default(1),
  max: positiveInt,
  /** Requests waiting per replica above which a replica is added. @default 4 */
  target_waiting: z.number().positive().default(4),
  /** Share of the KV cache in use above which a replica is added. @default 0.8 */
  target_kv_usage: z.number().gt(0).max(1).default(0.8),
  /** Seconds after a scaling decision before the next one. @default 120 */
  cooldown: seconds.default(120),
});

/** The weights' data types `models[].dtype` may name. */
export const DTYPES = ["bfloat16", "float16", "float32"] as const;
/** The quantizations `models[].quantization` may name. */
export const QUANTIZATIONS = ["none", "fp8", "int8", "awq", "int4", "gptq"] as const;

/** The `models[]` fields for SLURM jobs, capacity planning and autoscaling (spread into ModelSchema). */
export const ModelSlurmFields = {
  /** Extra arguments appended to the command (`--enable-prefix-caching`). */
  vllm_args: z.array(z.string().min(1)).default([]),
  /** Environment variables of the replica (exported in its SLURM job script). */
  env: z.record(z.string(), z.string()).superRefine((env, ctx) => {
    for (const name of Object.keys(env)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: "not a variable name; use letters, digits and _, not starting with a digit",
        });
      }
    }
  }).default({}),
  /** The job's `--time`; the partition's `max_time` caps it. */
  time: SlurmDurationSchema.optional(),
  /** `--cpus-per-task` of the job. */
  cpus_per_task: positiveInt.optional(),
  /** Parameters in billions, for the capacity check when `model_path` is no local directory. */
  params_b: z.number().positive().optional(),
  dtype: z.enum(DTYPES).default("bfloat16"),
  quantization: z.enum(QUANTIZATIONS).default("none"),
  autoscale: AutoscaleSchema.optional(),
};

/** The parts of a parsed model {@linkcode checkModelSlurm} reads. */
export interface ModelSlurmView {
  replicas: number;
  endpoints?: string[] | undefined;
  autoscale?: { min: number; max: number } | undefined;
}

/** Model-local checks of the new fields: `autoscale.min <= replicas <= autoscale.max`. */
export function checkModelSlurm(model: ModelSlurmView, ctx: z.RefinementCtx): void {
  const scale = model.autoscale;
  if (!scale) return;
  if (model.endpoints) {
    ctx.addIssue({
      code: "custom",
      path: ["autoscale"],
      message: "a model with endpoints is not launched; remove autoscale or endpoints",
    });
    return;
  }
  if (scale.max < scale.min) {
    ctx.addIssue({
      code: "custom",
      path: ["autoscale", "max"],
      message: `must be at least autoscale.min (${scale.min})`,
    });
  } else if (model.replicas < scale.min || model.replicas > scale.max) {
    ctx.addIssue({
      code: "custom",
      path: ["replicas"],
      message: `${model.replicas} is outside autoscale's ${scale.min}-${scale.max}; ` +
        "start within the bounds",
    });
  }
}

/** The parts of a parsed config {@linkcode checkCluster} reads. */
export interface ClusterConfigView {
  cluster: z.infer<typeof ClusterSchema>;
  models: {
    name: string;
    replicas: number;
    tensor_parallel_size: number;
    time?: string | undefined;
    endpoints?: string[] | undefined;
  }[];
}

/**
 * Checks across `cluster` and `models`: `gpus` only for local and enough of them for the
 * launched replicas, a job's `time` longer than `signal_lead`.
 */
export function checkCluster(config: ClusterConfigView, ctx: z.RefinementCtx): void {
  const { cluster } = config;
  const launched = config.models.filter((m) => m.endpoints === undefined);
  if (cluster.gpus) {
    if (cluster.type !== "local") {
      ctx.addIssue({
        code: "custom",
        path: ["cluster", "gpus"],
        message: "only for cluster.type local; SLURM hands out GPUs with --gres",
      });
    } else {
      const dup = cluster.gpus.find((g, i) => cluster.gpus!.indexOf(g) !== i);
      const needed = launched.reduce((n, m) => n + m.replicas * m.tensor_parallel_size, 0);
      if (dup !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["cluster", "gpus"],
          message: `GPU ${dup} is listed twice`,
        });
      } else if (needed > cluster.gpus.length) {
        ctx.addIssue({
          code: "custom",
          path: ["cluster", "gpus"],
          message: `${cluster.gpus.length} GPUs listed, but the launched models need ${needed} ` +
            "(replicas x tensor_parallel_size); list more or launch fewer",
        });
      }
    }
  }
  const slurm = cluster.slurm;
  if (cluster.type !== "slurm" || !slurm) return;
  config.models.forEach((model, i) => {
    const limit = model.time === undefined ? undefined : parseSlurmDuration(model.time);
    if (typeof limit === "number" && limit <= slurm.signal_lead) {
      ctx.addIssue({
        code: "custom",
        path: ["models", i, "time"],
        message:
          `${limit} s is not longer than cluster.slurm.signal_lead (${slurm.signal_lead} s); ` +
          "a replacement would start at once; give a longer time or a shorter signal_lead",
      });
    }
  });
}

/** The parsed `cluster:` section. */
export type ClusterConfig = z.infer<typeof ClusterSchema>;
/** The parsed `cluster.slurm:` section. */
export type SlurmConfig = z.infer<typeof SlurmSchema>;
/** One parsed partition. */
export type PartitionConfig = z.infer<typeof PartitionSchema>;
/** The parsed `cluster.slurm.ssh:` section. */
export type SlurmSshConfig = z.infer<typeof SlurmSshSchema>;
/** The parsed `cluster.slurm.rest:` section. */
export type SlurmRestConfig = z.infer<typeof SlurmRestSchema>;
/** The parsed `models[].autoscale:` section. */
export type AutoscaleConfig = z.infer<typeof AutoscaleSchema>;
/** A weights data type. */
export type Dtype = typeof DTYPES[number];
/** A quantization. */
export type Quantization = typeof QUANTIZATIONS[number];

/**
 * The sbatch script of one replica, rendered from its model's config and a partition, and the job
 * names that carry a replica's model, index and per-submit idempotency key so jobs are found again.
 */
import {
  CommandTemplateError,
  commandTemplateOf,
  renderCommand,
} from "../../config/command_template.ts";
import type { ModelConfig } from "../../config/schema.ts";
import type { PartitionConfig } from "../../config/slurm_schema.ts";
import { formatSlurmDuration, parseSlurmDuration } from "./duration.ts";

/** What every turnpike job name starts with. */
export const JOB_NAME_PREFIX = "tp.";

/** The parts of a job name. */
export interface JobNameParts {
  model: string;
  replica: number;
  /** The idempotency key of one submit attempt (see {@linkcode newSubmitKey}). */
  key: string;
}

const KEY_PATTERN = /^[a-z0-9]{1,16}$/;

/** Characters kept as they are in a job name's model part; others are written `~XX` (UTF-8 hex). */
const SAFE_CHAR = /[A-Za-z0-9._-]/;

function encodeModel(model: string): string {
  let out = "";
  for (const char of model) {
    if (SAFE_CHAR.test(char)) out += char;
    else {
      for (const byte of new TextEncoder().encode(char)) {
        out += `~${byte.toString(16).padStart(2, "0")}`;
      }
    }
  }
  return out;
}

function decodeModel(text: string): string | undefined {
  if (!/^(?:[A-Za-z0-9._-]|~[0-9a-f]{2})+$/.test(text)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < text.length;) {
    if (text[i] === "~") {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 3;
    } else {
      bytes.push(text.charCodeAt(i));
      i++;
    }
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(bytes));
  } catch {
    return undefined;
  }
}

/**
 * A fresh idempotency key for one submit attempt: 8 lowercase base-36 characters from a CSPRNG.
 * Persist it before sbatch runs: a retry after a lost reply finds the job by the name it carries.
 */
export function newSubmitKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return [...bytes].map((b) => (b % 36).toString(36)).join("");
}

/**
 * The job name of one submit of one replica: `tp.<model>.<replica>.<key>`, the model's characters
 * outside `[A-Za-z0-9._-]` written as `~XX` so the name is safe in a shell word and in squeue's
 * `|`-separated output. The model comes first so squeue's 8-character NAME column shows it.
 *
 * @example jobName({ model: "llama-3.1-8b", replica: 0, key: "k3x9a0qz" }) // "tp.llama-3.1-8b.0.k3x9a0qz"
 */
export function jobName(parts: JobNameParts): string {
  if (!Number.isInteger(parts.replica) || parts.replica < 0) {
    throw new RangeError(`replica must be an integer of 0 or more, got ${parts.replica}`);
  }
  if (!KEY_PATTERN.test(parts.key)) {
    throw new RangeError(`key must be 1-16 lowercase letters or digits, got "${parts.key}"`);
  }
  if (parts.model === "") throw new RangeError("model must not be empty");
  return `${JOB_NAME_PREFIX}${encodeModel(parts.model)}.${parts.replica}.${parts.key}`;
}

/** The parts of a name {@linkcode jobName} wrote; undefined for any other job's name. */
export function parseJobName(name: string): JobNameParts | undefined {
  if (!name.startsWith(JOB_NAME_PREFIX)) return undefined;
  const rest = name.slice(JOB_NAME_PREFIX.length);
  // The model may hold dots; the replica and key after it hold none.
  const match = /^(.+)\.(0|[1-9][0-9]*)\.([a-z0-9]{1,16})$/.exec(rest);
  if (!match) return undefined;
  const model = decodeModel(match[1]!);
  if (model === undefined) return undefined;
  return { model, replica: Number(match[2]), key: match[3]! };
}

/**
 * Quotes one word for bash: bare when it holds only safe characters, in single quotes otherwise,
 * and as `$'...'` when it holds a backslash or a control character (which shellcheck reads
 * unambiguously there).
 */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_\/.:=@%+,-]+$/.test(word)) return word;
  // deno-lint-ignore no-control-regex
  if (!/[\\\x00-\x1f\x7f]/.test(word)) return `'${word.replaceAll("'", `'\\''`)}'`;
  let out = "";
  for (const char of word) {
    const code = char.charCodeAt(0);
    if (char === "\\" || char === "'") out += `\\${char}`;
    else if (char === "\n") out += "\\n";
    else if (char === "\t") out += "\\t";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += char;
  }
  return `$'${out}'`;
}

/** `~` or `~/...` made absolute with the cluster user's home directory. */
export function expandHome(path: string, home: string): string {
  if (path === "~") return home;
  if (path.startsWith("~/")) return `${home.replace(/\/+$/, "")}/${path.slice(2)}`;
  return path;
}

/** The directories of a script's `#SBATCH --output`/`--error` files: they must exist before sbatch. */
export function outputDirsOf(script: string): string[] {
  const dirs = new Set<string>();
  for (const match of script.matchAll(/^#SBATCH --(?:output|error)=(.+)$/gm)) {
    const path = match[1]!.trim();
    const slash = path.lastIndexOf("/");
    if (slash > 0) dirs.add(path.slice(0, slash));
  }
  return [...dirs];
}

/** Where a job's stdout (`<name>.out`) and stderr (`<name>.err`) go under the job directory. */
export function jobLogPaths(
  jobDir: string,
  name: string,
): { outputPath: string; errorPath: string } {
  const dir = jobDir.replace(/\/+$/, "");
  return { outputPath: `${dir}/${name}.out`, errorPath: `${dir}/${name}.err` };
}

/** The port Ray's head listens on in a multi-node job (its default); the job has its nodes alone. */
export const RAY_PORT = 6379;

/** Options of {@linkcode renderSbatch}. */
export interface RenderOptions {
  model: ModelConfig;
  /** The replica index within the model. */
  replica: number;
  partition: PartitionConfig;
  /** The idempotency key of this submit (see {@linkcode newSubmitKey}). */
  key: string;
  /**
   * Where the script and its output go on the cluster: an absolute path there, `~` already
   * expanded with {@linkcode expandHome} (sbatch does not expand it in `--output`).
   */
  jobDir: string;
  /** Seconds before the time limit that the batch shell gets USR1 (`cluster.slurm.signal_lead`). */
  signalLead: number;
  /** The port to serve on; `base_port + replica` when absent (a retry after "port taken" sets it). */
  port?: number;
}

/** A rendered job. */
export interface RenderedJob {
  ok: true;
  script: string;
  name: string;
  port: number;
  /** Nodes the job asks for (more than 1: a Ray head and workers). */
  nodes: number;
  /** GPUs per node (`--gres=gpu:N`). */
  gpusPerNode: number;
  /** The `--time` it asks for, when it has one. */
  time?: string;
  /** The job's stdout on the cluster. */
  outputPath: string;
  /** The job's stderr on the cluster: the server's log, where a taken port shows. */
  errorPath: string;
  /** The server's argv as the script runs it. */
  argv: string[];
}

/** A model that cannot run on a partition, with the reason. */
export interface RenderRefusal {
  ok: false;
  reason: string;
}

/**
 * How many nodes and GPUs per node `tensor_parallel_size` needs on a partition: one node when it
 * fits, else whole nodes (vLLM's multi-node guidance: tensor parallel within a node, pipeline
 * parallel across nodes), or the reason it cannot.
 */
export function layoutOf(
  tensorParallelSize: number,
  partition: Pick<PartitionConfig, "name" | "gpus_per_node" | "max_nodes">,
): { nodes: number; gpusPerNode: number } | { reason: string } {
  const perNode = partition.gpus_per_node;
  if (tensorParallelSize <= perNode) return { nodes: 1, gpusPerNode: tensorParallelSize };
  if (tensorParallelSize % perNode !== 0) {
    return {
      reason: `tensor_parallel_size ${tensorParallelSize} spans more than one node of partition ` +
        `"${partition.name}" (${perNode} GPUs each) but is not a multiple of ${perNode}; ` +
        `use a multiple of ${perNode} or a partition with bigger nodes`,
    };
  }
  const nodes = tensorParallelSize / perNode;
  if (nodes > partition.max_nodes) {
    return {
      reason: `tensor_parallel_size ${tensorParallelSize} needs ${nodes} nodes of partition ` +
        `"${partition.name}" (${perNode} GPUs each), but it allows ${partition.max_nodes} ` +
        `(max_nodes); raise max_nodes if the partition allows more, or quantize the model`,
    };
  }
  return { nodes, gpusPerNode: perNode };
}

/** The job's `--time`: the model's, capped at the partition's `max_time`, else that maximum. */
function timeLimitOf(model: ModelConfig, partition: PartitionConfig): string | undefined {
  const wanted = model.time === undefined ? undefined : parseSlurmDuration(model.time);
  const max = partition.max_time === undefined ? undefined : parseSlurmDuration(partition.max_time);
  if (typeof wanted === "number" && typeof max === "number") {
    return formatSlurmDuration(Math.min(wanted, max));
  }
  if (typeof wanted === "number") return formatSlurmDuration(wanted);
  if (typeof max === "number") return formatSlurmDuration(max);
  return undefined;
}

/**
 * Renders the sbatch script of one replica on one partition: the `#SBATCH` lines, the model's
 * environment, and the model's command template (`{port}` = `base_port + replica`) with its
 * `vllm_args`, run under a bash wrapper that keeps serving at the time-limit notice (USR1, sent
 * `signalLead` seconds ahead; a replacement is being started meanwhile), forwards SIGTERM and
 * SIGINT to the server, and exits with the server's status. A model wider than one node gets a
 * Ray head on the first node and a worker on each other node, started with `srun`, and vLLM's
 * `--pipeline-parallel-size` across the nodes; a model that cannot be laid out is refused with
 * the reason.
 */
export function renderSbatch(options: RenderOptions): RenderedJob | RenderRefusal {
  const { model, replica, partition } = options;
  const layout = layoutOf(model.tensor_parallel_size, partition);
  if ("reason" in layout) return { ok: false, reason: layout.reason };
  const port = options.port ?? model.base_port + replica;
  if (port > 65535) {
    return { ok: false, reason: `replica ${replica} would serve on port ${port}, past 65535` };
  }
  const name = jobName({ model: model.name, replica, key: options.key });
  let argv: string[];
  try {
    argv = [
      ...renderCommand(commandTemplateOf(model), {
        port,
        model_path: model.model_path,
        name: model.name,
        gpu_memory_utilization: model.gpu_memory_utilization,
        // Across nodes: tensor parallel within each node, pipeline parallel across them.
        tensor_parallel_size: layout.gpusPerNode,
        max_model_len: model.max_model_len,
      }),
      ...model.vllm_args,
    ];
  } catch (error) {
    if (!(error instanceof CommandTemplateError)) throw error;
    return { ok: false, reason: `models "${model.name}" command: ${error.message}` };
  }
  if (layout.nodes > 1) {
    argv.push(
      "--pipeline-parallel-size",
      String(layout.nodes),
      "--distributed-executor-backend",
      "ray",
    );
  }
  const { outputPath, errorPath } = jobLogPaths(options.jobDir, name);
  const time = timeLimitOf(model, partition);
  const directives: [string, string | number | undefined][] = [
    ["job-name", name],
    ["partition", partition.name],
    ["qos", partition.qos],
    ["account", partition.account],
    ["reservation", partition.reservation],
    ["constraint", partition.constraint],
    ["nodes", layout.nodes],
    ["ntasks-per-node", 1],
    ["gres", `gpu:${layout.gpusPerNode}`],
    ["cpus-per-task", model.cpus_per_task],
    ["time", time],
    ["signal", `B:USR1@${options.signalLead}`],
    ["output", outputPath],
    ["error", errorPath],
  ];
  const lines = ["#!/bin/bash"];
  for (const [key, value] of directives) {
    if (value !== undefined) lines.push(`#SBATCH --${key}=${value}`);
  }
  if (layout.nodes > 1) lines.push("#SBATCH --exclusive");
  lines.push(
    `# Rendered by turnpike: model ${
      JSON.stringify(model.name)
    }, replica ${replica}, port ${port}.`,
    "set -uo pipefail",
  );
  const env: [string, string][] = [
    ...Object.entries(model.env),
    ["TURNPIKE_JOB_NAME", name],
    ["TURNPIKE_MODEL", model.name],
    ["TURNPIKE_REPLICA", String(replica)],
    ["TURNPIKE_PORT", String(port)],
  ];
  for (const [key, value] of env) lines.push(`export ${key}=${shellQuote(value)}`);
  lines.push(
    'echo "turnpike: job ${SLURM_JOB_ID:-?} replica ${TURNPIKE_MODEL}/${TURNPIKE_REPLICA}' +
      ' on $(hostname):${TURNPIKE_PORT}" >&2',
  );
  lines.push(
    // Set before anything starts (children get the default handlers back). USR1 is the time-limit
    // notice: keep serving while the replacement starts (vLLM would die of an unhandled USR1).
    // TERM (scancel) and INT go on to the server for a clean stop, or end a job not serving yet.
    'server=""',
    `trap 'echo "turnpike: time limit in ${options.signalLead} s (USR1); still serving" >&2' USR1`,
    `trap 'echo "turnpike: stopping the server" >&2; if [ -n "$server" ]; then ` +
      `kill -TERM "$server" 2>/dev/null; else exit 143; fi' TERM INT`,
  );
  if (layout.nodes > 1) lines.push(...rayLines(layout.nodes, layout.gpusPerNode));
  lines.push(
    `server_argv=(${argv.map(shellQuote).join(" ")})`,
    '"${server_argv[@]}" &',
    "server=$!",
    "status=0",
    "while :; do",
    '  wait "$server"',
    "  status=$?",
    '  kill -0 "$server" 2>/dev/null || break',
    "done",
    'echo "turnpike: server exited with status $status" >&2',
    'exit "$status"',
    "",
  );
  const job: RenderedJob = {
    ok: true,
    script: lines.join("\n"),
    name,
    port,
    nodes: layout.nodes,
    gpusPerNode: layout.gpusPerNode,
    outputPath,
    errorPath,
    argv,
  };
  if (time !== undefined) job.time = time;
  return job;
}

/**
 * A Ray cluster over the job's nodes, as vLLM's multi-node guide and Ray's SLURM guide start one:
 * the head on the first node (where the batch script runs), then a worker per other node once
 * the head answers, each an `srun` step kept in the background; the server starts once every node
 * is alive, counted with Ray's own `ray.nodes()` as vLLM's multi-node-serving.sh does.
 */
function rayLines(nodes: number, gpusPerNode: number): string[] {
  const alive = `python3 -c 'import ray; ray.init(address="auto", logging_level="ERROR"); ` +
    `print(sum(1 for n in ray.nodes() if n["Alive"]))' 2>/dev/null`;
  return [
    'mapfile -t job_nodes < <(scontrol show hostnames "$SLURM_JOB_NODELIST")',
    'head_node="${job_nodes[0]}"',
    'head_ip="$(srun --overlap --nodes=1 --ntasks=1 -w "$head_node" hostname --ip-address' +
    " | awk '{print $1}')\"",
    `export RAY_ADDRESS="$head_ip:${RAY_PORT}"`,
    "trap 'kill $(jobs -p) 2>/dev/null' EXIT",
    "# ray_alive N: waits up to 300 s until N Ray nodes are alive.",
    "ray_alive() {",
    "  local alive=0",
    "  for _ in $(seq 1 60); do",
    `    alive="$(${alive})"`,
    '    [ "${alive:-0}" -ge "$1" ] && return 0',
    "    sleep 5",
    "  done",
    '  echo "turnpike: ${alive:-0} of $1 Ray nodes alive after 300 s" >&2',
    "  return 1",
    "}",
    'srun --overlap --nodes=1 --ntasks=1 -w "$head_node" ray start --head --block' +
    ` --node-ip-address="$head_ip" --port=${RAY_PORT} --num-gpus=${gpusPerNode} &`,
    "ray_alive 1 || exit 1",
    'for worker in "${job_nodes[@]:1}"; do',
    '  srun --overlap --nodes=1 --ntasks=1 -w "$worker" ray start --block' +
    ` --address="$RAY_ADDRESS" --num-gpus=${gpusPerNode} &`,
    "done",
    `ray_alive ${nodes} || exit 1`,
  ];
}

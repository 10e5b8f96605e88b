/** `deno task jobs plan`: each replica's sbatch script and each model's capacity check per partition, submitting nothing. */
import { CONFIG_FLAG_USAGE, configFromFlags, parseFlags, UsageError } from "../../config/cli.ts";
import type { Config, ModelConfig } from "../../config/schema.ts";
import type { PartitionConfig } from "../../config/slurm_schema.ts";
import { closest } from "../../config/suggest.ts";
import {
  type CapacityFigures,
  checkCapacity,
  describeFigures,
  knownShapeFor,
  ModelFilesError,
  type ModelShape,
  readModelShape,
  type Suggestion,
} from "../capacity/mod.ts";
import { renderSbatch } from "../slurm/render.ts";

/** `jobs plan --help`. */
export const PLAN_USAGE = [
  "Usage: deno task jobs plan [--config FILE] [--model NAME] [--json]",
  "",
  "Shows what `jobs start` would submit, and submits nothing: for each launched model, the",
  "capacity check on every partition (weights, KV cache, concurrent sequences at max_model_len,",
  "from the model's config.json when model_path is a local directory, else params_b or a known",
  "shape) and the sbatch script of each replica on the first partition it is tried on.",
  "When a model does not fit a partition, it says why, with the numbers, and what would fit:",
  "a tensor_parallel_size or a quantization, with the context and sequences each allows.",
  "",
  "Exits 0 when every model fits every partition, 1 when one is refused, 2 for a bad command",
  "line or config.",
  "",
  "Options:",
  CONFIG_FLAG_USAGE,
  "  --model NAME    only this model",
  "  --json          print the plan as JSON",
  "  -h, --help      show this help",
].join("\n");

/** The key shown in planned job names; every real submit gets a fresh one. */
const PLAN_KEY = "plan";

/** One partition's verdict for a model. */
export interface PartitionPlan {
  partition: string;
  priority: number;
  /** `fits`, `refused` (with the reason), or `unchecked` when the numbers to check are missing. */
  status: "fits" | "refused" | "unchecked";
  reason?: string;
  figures?: CapacityFigures;
  suggestions: Suggestion[];
}

/** One replica's job as it would be submitted first. */
export interface ReplicaPlan {
  replica: number;
  partition: string;
  name: string;
  port: number;
  script: string;
}

/** The plan of one model. */
export interface ModelPlan {
  model: string;
  shape?: string;
  partitions: PartitionPlan[];
  replicas: ReplicaPlan[];
}

/** The plan of a config: every launched model's. */
export interface Plan {
  ok: boolean;
  models: ModelPlan[];
}

/** The shape the check uses for a model, or why there is none (`refused`: a broken model directory). */
export type ShapeLookup = { shape: ModelShape } | { error: string; refused: boolean };

/** Finds a model's shape: its local config.json, else a known shape by name or `params_b`. */
export async function lookupShape(model: ModelConfig): Promise<ShapeLookup> {
  let shape: ModelShape | undefined;
  try {
    shape = model.model_path === undefined ? undefined : await readModelShape(model.model_path);
  } catch (error) {
    if (!(error instanceof ModelFilesError)) throw error;
    return { error: error.message, refused: true };
  }
  shape ??= knownShapeFor([model.model_path, model.name], model.params_b);
  if (!shape) {
    return {
      error: model.params_b === undefined
        ? "the model's size is unknown: set params_b, or make model_path a local directory " +
          "with its config.json"
        : `no layer shape is known near ${model.params_b}B parameters for the KV cache: make ` +
          "model_path a local directory with its config.json",
      refused: false,
    };
  }
  return {
    shape: model.params_b === undefined ? shape : { ...shape, params: model.params_b * 1e9 },
  };
}

function byPriority(partitions: readonly PartitionConfig[]): PartitionConfig[] {
  return [...partitions].sort((a, b) => b.priority - a.priority);
}

/** The plan of one model on the config's partitions (pure, given its shape). */
export function planModel(
  config: Config,
  model: ModelConfig,
  lookup: ShapeLookup,
): ModelPlan {
  const slurm = config.cluster.slurm!;
  const plan: ModelPlan = { model: model.name, partitions: [], replicas: [] };
  if ("shape" in lookup) plan.shape = lookup.shape.label;
  let first: PartitionConfig | undefined;
  for (const partition of byPriority(slurm.partitions)) {
    const rendered = renderSbatch({
      model,
      replica: 0,
      partition,
      key: PLAN_KEY,
      jobDir: slurm.job_dir,
      signalLead: slurm.signal_lead,
    });
    const verdict: PartitionPlan = {
      partition: partition.name,
      priority: partition.priority,
      status: "unchecked",
      suggestions: [],
    };
    plan.partitions.push(verdict);
    if (!rendered.ok) {
      verdict.status = "refused";
      verdict.reason = rendered.reason;
    } else first ??= partition;
    if ("error" in lookup) {
      // A broken local model directory refuses; an unknown size leaves the check undone.
      if (lookup.refused) verdict.status = "refused";
      verdict.reason ??= lookup.error;
      continue;
    }
    if (partition.gpu_memory_gb === undefined) {
      verdict.reason ??= `partition "${partition.name}" has no gpu_memory_gb to check against`;
      continue;
    }
    const report = checkCapacity({
      shape: lookup.shape,
      dtype: model.dtype,
      quantization: model.quantization,
      tensorParallelSize: model.tensor_parallel_size,
      gpuMemoryUtilization: model.gpu_memory_utilization,
      maxModelLen: model.max_model_len,
      partition: { ...partition, gpu_memory_gb: partition.gpu_memory_gb },
    });
    verdict.figures = report.figures;
    verdict.suggestions = report.suggestions;
    if (report.figures.fits && verdict.status !== "refused") verdict.status = "fits";
    else {
      verdict.status = "refused";
      verdict.reason ??= report.figures.reason ?? "it does not fit";
    }
  }
  if (first) {
    for (let replica = 0; replica < model.replicas; replica++) {
      const rendered = renderSbatch({
        model,
        replica,
        partition: first,
        key: PLAN_KEY,
        jobDir: slurm.job_dir,
        signalLead: slurm.signal_lead,
      });
      if (rendered.ok) {
        plan.replicas.push({
          replica,
          partition: first.name,
          name: rendered.name,
          port: rendered.port,
          script: rendered.script,
        });
      }
    }
  }
  return plan;
}

function formatModel(plan: ModelPlan, model: ModelConfig): string[] {
  const lines = [
    `Model "${plan.model}" (${model.model_path ?? "no model_path"}): ${model.replicas} ` +
    `replica${model.replicas === 1 ? "" : "s"}, tensor_parallel_size ` +
    `${model.tensor_parallel_size}, ${model.dtype}` +
    `${model.quantization === "none" ? "" : `, ${model.quantization}`}` +
    `${plan.shape ? `; shape from ${plan.shape}` : ""}`,
  ];
  for (const p of plan.partitions) {
    const head = `  Partition ${p.partition} (priority ${p.priority}): `;
    if (p.status === "fits") lines.push(`${head}fits: ${describeFigures(p.figures!)}`);
    else if (p.status === "unchecked") lines.push(`${head}capacity not checked: ${p.reason}`);
    else {
      lines.push(`${head}REFUSED: ${p.reason}`);
      if (p.figures && p.figures.kvPerGpuGiB > 0) {
        lines.push(`    as configured: ${describeFigures(p.figures)}`);
      }
      for (const s of p.suggestions) {
        lines.push(`    would fit with ${s.setting}: ${describeFigures(s.figures)}`);
      }
      if (p.figures && p.suggestions.length === 0) {
        lines.push("    no tensor_parallel_size or quantization makes it fit this partition");
      }
    }
  }
  for (const r of plan.replicas) {
    lines.push(
      "",
      `  Replica ${r.replica} on ${r.partition}: job ${r.name} (the key part is new for each ` +
        `submit), port ${r.port}`,
      ...r.script.trimEnd().split("\n").map((line) => `    ${line}`),
    );
  }
  return lines;
}

/**
 * Runs `jobs plan` with the arguments after `plan`; resolves to the exit code (0 all fit, 1 one
 * refused). A bad command line or config throws UsageError or ConfigError, which main.ts prints
 * and exits 2 for, as for every command.
 */
export async function runPlan(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    args,
    { model: { type: "string" }, json: { type: "boolean" } },
    PLAN_USAGE,
    true,
  );
  if (values.help) {
    console.log(PLAN_USAGE);
    return 0;
  }
  if (positionals.length > 0) {
    throw new UsageError(`Unexpected argument "${positionals[0]}"`, PLAN_USAGE);
  }
  const config = await configFromFlags(values);
  if (config.cluster.type !== "slurm" || !config.cluster.slurm) {
    console.error(
      "jobs plan renders SLURM jobs: the config's cluster.type is local (set cluster.type: " +
        "slurm and cluster.slurm.partitions)",
    );
    return 2;
  }
  const launched = config.models.filter((m) => m.endpoints === undefined);
  const chosen = values.model === undefined
    ? launched
    : launched.filter((m) => m.name === values.model);
  if (values.model !== undefined && chosen.length === 0) {
    const hint = closest(values.model, launched.map((m) => m.name));
    throw new UsageError(
      `No launched model "${values.model}" in the config` +
        (hint ? `; did you mean "${hint}"?` : ""),
      PLAN_USAGE,
    );
  }
  const plans: ModelPlan[] = [];
  for (const model of chosen) plans.push(planModel(config, model, await lookupShape(model)));
  const refused = plans.flatMap((p) =>
    p.partitions.filter((v) => v.status === "refused").map((v) => `${p.model} on ${v.partition}`)
  );
  const plan: Plan = { ok: refused.length === 0, models: plans };
  if (values.json) console.log(JSON.stringify(plan, null, 2));
  else {
    if (plans.length === 0) console.log("No launched models in the config: nothing to submit.");
    if (config.cluster.slurm.job_dir.startsWith("~")) {
      console.log(
        `(job_dir ${config.cluster.slurm.job_dir}: its ~ becomes the cluster user's home at ` +
          "submit, as sbatch does not expand it)\n",
      );
    }
    plans.forEach((p, i) => {
      if (i > 0) console.log("");
      console.log(formatModel(p, chosen[i]!).join("\n"));
    });
    console.log("");
    console.log(
      refused.length === 0
        ? "Every model fits. Nothing was submitted; `deno task jobs start` submits these jobs."
        : `Refused: ${refused.join(", ")}. Nothing was submitted.`,
    );
  }
  return refused.length === 0 ? 0 : 1;
}

if (import.meta.main) {
  // Run alone (`deno run -A cluster/jobs/plan.ts`), through main.ts's error handling. Not a
  // top-level await: main.ts imports this module, which must finish evaluating first.
  const plan = { name: "plan", summary: "", usage: PLAN_USAGE, handlesHelp: true, run: runPlan };
  import("../../main.ts").then(({ main }) => main(["plan", ...Deno.args], [plan])).then(
    (code) => Deno.exit(code),
  );
}

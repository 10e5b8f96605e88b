/**
 * Memory-aware capacity check of one model on one partition, the way vLLM spends a GPU: weights
 * split over the GPUs, an activation allowance, and the KV cache in what is left of
 * `gpu_memory_utilization` x the GPU's memory; with suggestions (a tensor_parallel_size, a
 * quantization) and a refusal that gives the numbers.
 */
import type { Dtype, Quantization } from "../../config/slurm_schema.ts";
import { layoutOf } from "../slurm/render.ts";
import type { ModelShape } from "./shapes.ts";

/** Bytes in a GiB; `gpu_memory_gb` is read as GiB, as GPU memory is sold (an "80 GB" H100 has 80 GiB). */
export const GIB = 2 ** 30;

/**
 * Memory per GPU vLLM uses besides weights and KV cache: the activation peak of its profiling
 * run, CUDA graphs, NCCL buffers and the CUDA context. 2 GiB is a conservative allowance for an
 * 8B-70B model at vLLM's default `max_num_batched_tokens`.
 */
export const ACTIVATION_OVERHEAD_GIB = 2;

/** Bytes per weight for a dtype. */
export const DTYPE_BYTES: Record<Dtype, number> = { bfloat16: 2, float16: 2, float32: 4 };

/**
 * Bytes per weight for a quantization: 8-bit fp8 and int8, 4-bit AWQ, GPTQ and int4 (their scales
 * and zero points, a few percent, are left out). `none` keeps the dtype's.
 */
export const QUANTIZATION_BYTES: Record<Exclude<Quantization, "none">, number> = {
  fp8: 1,
  int8: 1,
  awq: 0.5,
  int4: 0.5,
  gptq: 0.5,
};

/** What one check is about. */
export interface CapacityInput {
  shape: ModelShape;
  dtype: Dtype;
  quantization: Quantization;
  tensorParallelSize: number;
  gpuMemoryUtilization: number;
  /** The context to serve; the model's `maxPositions` when absent. */
  maxModelLen?: number | undefined;
  partition: { name: string; gpus_per_node: number; max_nodes: number; gpu_memory_gb: number };
}

/** The memory arithmetic of one configuration. */
export interface CapacityFigures {
  tensorParallelSize: number;
  quantization: Quantization;
  nodes: number;
  /** All weights, and one GPU's share. */
  weightsGiB: number;
  weightsPerGpuGiB: number;
  /** `gpu_memory_gb` x `gpu_memory_utilization`. */
  budgetPerGpuGiB: number;
  overheadPerGpuGiB: number;
  /** What is left for the KV cache on each GPU (negative: the weights do not fit). */
  kvPerGpuGiB: number;
  /** KV cache bytes per token of context, the whole model: 2 x layers x kv_heads x head_dim x bytes. */
  kvBytesPerToken: number;
  /** Tokens the KV cache holds across the replica's GPUs. */
  kvTokens: number;
  maxModelLen: number;
  /** Sequences of `maxModelLen` tokens the cache holds at once. */
  maxSequences: number;
  /** The longest context one sequence can have (the KV tokens, capped at the model's). */
  maxContext: number;
  fits: boolean;
  /** Why it does not fit or cannot run, with the numbers. */
  reason?: string;
}

/** A configuration that would change the outcome. */
export interface Suggestion {
  change: "tensor_parallel_size" | "quantization";
  /** The settings to write, e.g. `tensor_parallel_size: 2` or `quantization: fp8 (or int8)`. */
  setting: string;
  figures: CapacityFigures;
}

/** A check's outcome: the figures, and when they do not fit, what would. */
export interface CapacityReport {
  figures: CapacityFigures;
  suggestions: Suggestion[];
}

function round1(n: number): string {
  return (Math.round(n * 10) / 10).toFixed(1);
}

/** The arithmetic of {@linkcode CapacityInput} (pure; no suggestions). */
export function capacityFigures(input: CapacityInput): CapacityFigures {
  const { shape, partition } = input;
  const tp = input.tensorParallelSize;
  const dtypeBytes = DTYPE_BYTES[input.dtype];
  const weightBytes = input.quantization === "none"
    ? dtypeBytes
    : QUANTIZATION_BYTES[input.quantization];
  const weightsGiB = shape.params * weightBytes / GIB;
  const budget = partition.gpu_memory_gb * input.gpuMemoryUtilization;
  const weightsPerGpu = weightsGiB / tp;
  const kvPerGpu = budget - weightsPerGpu - ACTIVATION_OVERHEAD_GIB;
  // The KV cache stays in the model's dtype whatever the weights' quantization.
  const kvBytesPerToken = 2 * shape.layers * shape.kvHeads * shape.headDim * dtypeBytes;
  const layout = layoutOf(tp, { ...partition });
  const nodes = "reason" in layout ? Math.ceil(tp / partition.gpus_per_node) : layout.nodes;
  const tpInNode = "reason" in layout ? tp : layout.gpusPerNode;
  // With more GPUs in a node than KV heads, vLLM replicates each head: no extra tokens for them.
  const replication = Math.max(1, tpInNode / shape.kvHeads);
  const kvTokens = kvPerGpu <= 0
    ? 0
    : Math.floor(kvPerGpu * GIB * tp / (kvBytesPerToken * replication));
  const maxModelLen = input.maxModelLen ?? shape.maxPositions ?? kvTokens;
  const maxContext = Math.min(kvTokens, shape.maxPositions ?? kvTokens);
  const figures: CapacityFigures = {
    tensorParallelSize: tp,
    quantization: input.quantization,
    nodes,
    weightsGiB,
    weightsPerGpuGiB: weightsPerGpu,
    budgetPerGpuGiB: budget,
    overheadPerGpuGiB: ACTIVATION_OVERHEAD_GIB,
    kvPerGpuGiB: kvPerGpu,
    kvBytesPerToken,
    kvTokens,
    maxModelLen,
    maxSequences: maxModelLen > 0 ? Math.floor(kvTokens / maxModelLen) : 0,
    maxContext,
    fits: false,
  };
  const where = `${tp} GPU${tp === 1 ? "" : "s"} of ${partition.gpu_memory_gb} GB at ` +
    `gpu_memory_utilization ${input.gpuMemoryUtilization} (${round1(budget)} GiB each)`;
  if ("reason" in layout) figures.reason = layout.reason;
  else if (shape.attentionHeads % tpInNode !== 0) {
    figures.reason = `vLLM needs the ${shape.attentionHeads} attention heads of ${shape.label} ` +
      `to divide evenly over tensor_parallel_size ${tpInNode}`;
  } else if (kvPerGpu <= 0) {
    figures.reason = `the weights do not fit: ${round1(weightsGiB)} GiB over ${tp} GPU` +
      `${tp === 1 ? "" : "s"} is ${round1(weightsPerGpu)} GiB each, plus ` +
      `${ACTIVATION_OVERHEAD_GIB} GiB of activations, over the ${round1(budget)} GiB of ${where}`;
  } else if (maxModelLen > kvTokens) {
    figures.reason = `the KV cache holds ${kvTokens} tokens (${round1(kvPerGpu)} GiB a GPU left ` +
      `after ${round1(weightsPerGpu)} GiB of weights, ${kvBytesPerToken / 1024} KiB a token), ` +
      `less than one sequence of max_model_len ${maxModelLen} on ${where}`;
  } else figures.fits = true;
  return figures;
}

/** The quantizations offered, grouped by bytes per weight, most precise first. */
const QUANTIZATION_CHOICES: { setting: string; quantization: Quantization }[] = [
  { setting: "quantization: fp8 (or int8)", quantization: "fp8" },
  { setting: "quantization: awq (or gptq, int4)", quantization: "awq" },
];

function bytesOf(dtype: Dtype, quantization: Quantization): number {
  return quantization === "none" ? DTYPE_BYTES[dtype] : QUANTIZATION_BYTES[quantization];
}

/**
 * Checks one model on one partition; when it does not fit, suggests the smallest power-of-2
 * `tensor_parallel_size` (up to the partition's GPUs per node x max_nodes) that fits as
 * quantized now, and each smaller quantization at the current size, with the context length and
 * concurrent sequences each allows.
 */
export function checkCapacity(input: CapacityInput): CapacityReport {
  const figures = capacityFigures(input);
  const suggestions: Suggestion[] = [];
  if (figures.fits) return { figures, suggestions };
  const most = input.partition.gpus_per_node * input.partition.max_nodes;
  for (let tp = 1; tp <= most; tp *= 2) {
    if (tp === input.tensorParallelSize) continue;
    const option = capacityFigures({ ...input, tensorParallelSize: tp });
    if (option.fits) {
      suggestions.push({
        change: "tensor_parallel_size",
        setting: `tensor_parallel_size: ${tp}`,
        figures: option,
      });
      break;
    }
  }
  const current = bytesOf(input.dtype, input.quantization);
  for (const choice of QUANTIZATION_CHOICES) {
    if (bytesOf(input.dtype, choice.quantization) >= current) continue;
    const option = capacityFigures({ ...input, quantization: choice.quantization });
    if (option.fits) {
      suggestions.push({ change: "quantization", setting: choice.setting, figures: option });
    }
  }
  return { figures, suggestions };
}

/** One line of figures for `jobs plan`. */
export function describeFigures(f: CapacityFigures): string {
  return `weights ${round1(f.weightsGiB)} GiB (${round1(f.weightsPerGpuGiB)} GiB on each of ` +
    `${f.tensorParallelSize} GPU${f.tensorParallelSize === 1 ? "" : "s"}), KV cache ` +
    `${f.kvTokens} tokens (${round1(Math.max(0, f.kvPerGpuGiB))} GiB a GPU), ` +
    `${f.maxSequences} concurrent sequences of ${f.maxModelLen} tokens, context up to ` +
    `${f.maxContext}`;
}

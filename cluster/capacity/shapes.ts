/** Model shapes for capacity planning: read from a Hugging Face `config.json`, or known ones by name or size. */
import { z } from "zod";

/** What the memory arithmetic needs to know of a model. */
export interface ModelShape {
  /** A name for messages (`Llama 3.1 8B`, or `config.json` for a local model). */
  label: string;
  /** Parameters; the weights are this many times the bytes per parameter. */
  params: number;
  layers: number;
  attentionHeads: number;
  kvHeads: number;
  headDim: number;
  /** The longest context the model was trained for (`max_position_embeddings`). */
  maxPositions?: number;
}

/**
 * Known shapes, from each model's `config.json` on Hugging Face; parameter counts from their
 * model cards (Llama's computed exactly from the shape, see shapes_test.ts).
 */
export const KNOWN_SHAPES: readonly (ModelShape & { pattern: RegExp })[] = [
  {
    label: "Llama 3.1 8B",
    pattern: /llama-?3\.1-?8b/,
    params: 8_030_261_248,
    layers: 32,
    attentionHeads: 32,
    kvHeads: 8,
    headDim: 128,
    maxPositions: 131_072,
  },
  {
    label: "Llama 3.1 70B",
    pattern: /llama-?3\.1-?70b/,
    params: 70_553_706_496,
    layers: 80,
    attentionHeads: 64,
    kvHeads: 8,
    headDim: 128,
    maxPositions: 131_072,
  },
  {
    label: "Qwen2.5 7B",
    pattern: /qwen2\.5-?7b/,
    params: 7_615_616_512,
    layers: 28,
    attentionHeads: 28,
    kvHeads: 4,
    headDim: 128,
    maxPositions: 32_768,
  },
  {
    label: "Qwen2.5 72B",
    pattern: /qwen2\.5-?72b/,
    params: 72_706_203_648,
    layers: 80,
    attentionHeads: 64,
    kvHeads: 8,
    headDim: 128,
    maxPositions: 32_768,
  },
];

/** How far `params_b` may be from a known model's size for its shape to stand in (25%). */
const NEAREST_TOLERANCE = 0.25;

/**
 * The known shape for a model: by its `model_path` or `name` (`meta-llama/Llama-3.1-8B-Instruct`),
 * else the known model nearest in size to `paramsB` within 25%.
 */
export function knownShapeFor(
  names: readonly (string | undefined)[],
  paramsB?: number,
): ModelShape | undefined {
  for (const name of names) {
    if (name === undefined) continue;
    const lower = name.toLowerCase();
    const found = KNOWN_SHAPES.find((shape) => shape.pattern.test(lower));
    if (found) return withoutPattern(found);
  }
  if (paramsB === undefined) return undefined;
  const wanted = paramsB * 1e9;
  let best: (typeof KNOWN_SHAPES)[number] | undefined;
  for (const shape of KNOWN_SHAPES) {
    const off = Math.abs(shape.params - wanted) / shape.params;
    if (off <= NEAREST_TOLERANCE && (!best || off < Math.abs(best.params - wanted) / best.params)) {
      best = shape;
    }
  }
  return best ? withoutPattern(best) : undefined;
}

function withoutPattern(shape: ModelShape & { pattern: RegExp }): ModelShape {
  const { pattern: _pattern, ...rest } = shape;
  return rest;
}

const positiveInt = z.number().int().positive();

/** The `config.json` keys read (Llama, Qwen2, Mistral and most decoder-only models use them). */
export const ConfigJsonSchema = z.object({
  num_hidden_layers: positiveInt,
  hidden_size: positiveInt,
  num_attention_heads: positiveInt,
  num_key_value_heads: positiveInt.optional(),
  head_dim: positiveInt.optional(),
  intermediate_size: positiveInt.optional(),
  vocab_size: positiveInt.optional(),
  tie_word_embeddings: z.boolean().optional(),
  attention_bias: z.boolean().optional(),
  model_type: z.string().optional(),
  max_position_embeddings: positiveInt.optional(),
  torch_dtype: z.string().optional(),
});

/** A parsed `config.json`. */
export type ConfigJson = z.infer<typeof ConfigJsonSchema>;

/**
 * Parameters of a Llama-style decoder from its `config.json`: embeddings (and an untied output
 * head), per layer the q/k/v/o projections (with q/k/v biases for Qwen2 or `attention_bias`), the
 * gated MLP's three matrices and two norms, and the final norm. Undefined without the sizes.
 */
export function paramsFromConfig(config: ConfigJson): number | undefined {
  const { hidden_size: hidden, vocab_size: vocab, intermediate_size: inter } = config;
  if (vocab === undefined || inter === undefined) return undefined;
  const headDim = config.head_dim ?? hidden / config.num_attention_heads;
  const q = config.num_attention_heads * headDim;
  const kv = (config.num_key_value_heads ?? config.num_attention_heads) * headDim;
  const bias = config.attention_bias ?? config.model_type === "qwen2";
  const perLayer = hidden * q + 2 * hidden * kv + q * hidden + (bias ? q + 2 * kv : 0) +
    3 * hidden * inter + 2 * hidden;
  const embeddings = vocab * hidden * (config.tie_word_embeddings ? 1 : 2);
  return embeddings + config.num_hidden_layers * perLayer + hidden;
}

/**
 * The shape from a `config.json`; `params` from the weights' stored size when known (a
 * safetensors index's `total_size` over the stored dtype's bytes), else from the shape.
 */
export function shapeFromConfig(
  config: ConfigJson,
  options: { label?: string; weightBytes?: number } = {},
): ModelShape | undefined {
  const stored = config.torch_dtype === "float32" ? 4 : 2;
  const params = options.weightBytes !== undefined
    ? options.weightBytes / stored
    : paramsFromConfig(config);
  if (params === undefined) return undefined;
  const shape: ModelShape = {
    label: options.label ?? "config.json",
    params,
    layers: config.num_hidden_layers,
    attentionHeads: config.num_attention_heads,
    kvHeads: config.num_key_value_heads ?? config.num_attention_heads,
    headDim: config.head_dim ?? Math.floor(config.hidden_size / config.num_attention_heads),
  };
  if (config.max_position_embeddings !== undefined) {
    shape.maxPositions = config.max_position_embeddings;
  }
  return shape;
}

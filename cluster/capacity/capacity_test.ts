import assert from "node:assert/strict";
import { join } from "node:path";
import {
  capacityFigures,
  type CapacityInput,
  checkCapacity,
  knownShapeFor,
  ModelFilesError,
  type ModelShape,
  paramsFromConfig,
  readModelShape,
} from "./mod.ts";

// All figures below are worked by hand: GiB = 2^30 bytes, the budget per GPU is
// gpu_memory_gb x gpu_memory_utilization = 80 x 0.9 = 72 GiB, the activation allowance 2 GiB a GPU,
// KV bytes per token = 2 (K and V) x layers x kv_heads x head_dim x 2 (bf16).

const H100 = { name: "gpu", gpus_per_node: 8, max_nodes: 1, gpu_memory_gb: 80 };

function shape(names: string[]): ModelShape {
  const found = knownShapeFor(names);
  assert.ok(found, names.join());
  return found;
}

function input(model: ModelShape, fields: Partial<CapacityInput> = {}): CapacityInput {
  return {
    shape: model,
    dtype: "bfloat16",
    quantization: "none",
    tensorParallelSize: 1,
    gpuMemoryUtilization: 0.9,
    maxModelLen: 32_768,
    partition: H100,
    ...fields,
  };
}

const near = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 0.001, `${what}: ${actual} is not ${expected}`);

Deno.test("Llama 3.1 8B in bf16 fits one 80 GB GPU with 13 sequences of 32k", () => {
  const f = capacityFigures(input(shape(["meta-llama/Llama-3.1-8B-Instruct"])));
  // weights: 8,030,261,248 params x 2 B = 16,060,522,496 B = 14.9575 GiB
  near(f.weightsGiB, 14.9575, "weights");
  // KV left: 72 - 14.9575 - 2 = 55.0425 GiB
  near(f.kvPerGpuGiB, 55.0425, "kv per GPU");
  // per token: 2 x 32 layers x 8 kv heads x 128 x 2 B = 131,072 B (128 KiB)
  assert.equal(f.kvBytesPerToken, 131_072);
  // tokens: 55.0425 GiB / 128 KiB = 55.0425 x 8192 = 450,907
  assert.equal(f.kvTokens, 450_907);
  // sequences: floor(450,907 / 32,768) = 13; context capped at the model's 131,072
  assert.equal(f.maxSequences, 13);
  assert.equal(f.maxContext, 131_072);
  assert.equal(f.fits, true);
  assert.equal(f.reason, undefined);
});

Deno.test("Llama 3.1 70B in bf16 is refused on one GPU, with tensor_parallel_size 4 or AWQ suggested", () => {
  const report = checkCapacity(input(shape(["meta-llama/Llama-3.1-70B-Instruct"])));
  const f = report.figures;
  // weights: 70,553,706,496 x 2 B = 141,107,412,992 B = 131.4165 GiB > 72 GiB
  near(f.weightsGiB, 131.4165, "weights");
  assert.equal(f.fits, false);
  assert.equal(
    f.reason,
    "the weights do not fit: 131.4 GiB over 1 GPU is 131.4 GiB each, plus 2 GiB of " +
      "activations, over the 72.0 GiB of 1 GPU of 80 GB at gpu_memory_utilization 0.9 " +
      "(72.0 GiB each)",
  );
  assert.deepEqual(report.suggestions.map((s) => s.setting), [
    "tensor_parallel_size: 4",
    "quantization: awq (or gptq, int4)",
  ]);
  // TP 2 is passed over: 131.4165 / 2 = 65.7083 GiB a GPU leaves 72 - 65.7083 - 2 = 4.2917 GiB;
  // per token 2 x 80 x 8 x 128 x 2 = 327,680 B; 4.2917 GiB x 2 GPUs / 327,680 B = 28,126 tokens,
  // less than one 32,768-token sequence.
  const tp2 = capacityFigures(input(shape(["llama-3.1-70b"]), { tensorParallelSize: 2 }));
  assert.equal(tp2.kvTokens, 28_126);
  assert.equal(tp2.fits, false);
  assert.match(
    tp2.reason!,
    /the KV cache holds 28126 tokens .* less than one sequence of max_model_len 32768/,
  );
  // TP 4: 32.8541 GiB a GPU leaves 37.1459 GiB; x 4 GPUs / 327,680 B = 486,878 tokens, 14 sequences.
  const tp4 = report.suggestions[0]!.figures;
  near(tp4.kvPerGpuGiB, 37.1459, "tp4 kv per GPU");
  assert.equal(tp4.kvTokens, 486_878);
  assert.equal(tp4.maxSequences, 14);
  // fp8 on one GPU: 65.7083 GiB of weights leaves 4.2917 GiB = 14,063 tokens: no sequence, so
  // not suggested. AWQ: 0.5 B a weight = 32.8541 GiB, leaving 37.1459 GiB = 121,719 tokens, 3
  // sequences of 32k, context up to 121,719.
  const fp8 = capacityFigures(input(shape(["llama-3.1-70b"]), { quantization: "fp8" }));
  assert.equal(fp8.kvTokens, 14_063);
  const awq = report.suggestions[1]!.figures;
  assert.equal(awq.kvTokens, 121_719);
  assert.equal(awq.maxSequences, 3);
  assert.equal(awq.maxContext, 121_719);
});

Deno.test("Qwen2.5 7B and 72B: GQA with 4 and 8 KV heads, the 32k native context", () => {
  const q7 = capacityFigures(input(shape(["Qwen/Qwen2.5-7B-Instruct"])));
  // weights 7,615,616,512 x 2 B = 14.1852 GiB; KV left 72 - 14.1852 - 2 = 55.8148 GiB;
  // per token 2 x 28 x 4 x 128 x 2 = 57,344 B; 55.8148 GiB / 57,344 B = 1,045,108 tokens;
  // 31 sequences of 32,768; context capped at max_position_embeddings 32,768.
  near(q7.weightsGiB, 14.1852, "weights");
  assert.equal(q7.kvBytesPerToken, 57_344);
  assert.equal(q7.kvTokens, 1_045_108);
  assert.equal(q7.maxSequences, 31);
  assert.equal(q7.maxContext, 32_768);
  const q72 = capacityFigures(
    input(shape(["Qwen/Qwen2.5-72B-Instruct"]), { tensorParallelSize: 4 }),
  );
  // weights 72,706,203,648 x 2 B = 135.4259 GiB, / 4 = 33.8565 GiB a GPU; KV left 36.1435 GiB;
  // x 4 GPUs / 327,680 B = 473,740 tokens, 14 sequences of 32k.
  near(q72.weightsPerGpuGiB, 33.8565, "weights per GPU");
  assert.equal(q72.kvTokens, 473_740);
  assert.equal(q72.maxSequences, 14);
  assert.equal(q72.fits, true);
});

Deno.test("an impossible layout is refused with vLLM's reason: 28 heads over 8 GPUs", () => {
  const f = capacityFigures(input(shape(["qwen2.5-7b"]), { tensorParallelSize: 8 }));
  assert.equal(f.fits, false);
  assert.equal(
    f.reason,
    "vLLM needs the 28 attention heads of Qwen2.5 7B to divide evenly over tensor_parallel_size 8",
  );
  // More GPUs than KV heads replicate them: 8 GPUs over 4 heads count each token twice.
  // 14.1852 / 8 = 1.7731 GiB a GPU; 68.2269 GiB left; 68.2269 GiB x 8 / (57,344 B x 2) = 5,110,074.
  assert.equal(f.kvTokens, 5_110_074);
  const wide = checkCapacity(
    input(shape(["llama-3.1-70b"]), {
      tensorParallelSize: 16,
      partition: { ...H100, gpus_per_node: 4, max_nodes: 2 },
    }),
  );
  assert.match(wide.figures.reason!, /needs 4 nodes of partition "gpu" .* allows 2 \(max_nodes\)/);
  assert.equal(wide.suggestions[0]?.setting, "tensor_parallel_size: 4");
});

Deno.test("a model that fits nowhere is refused with no suggestion", () => {
  const report = checkCapacity(
    input(shape(["llama-3.1-70b"]), {
      partition: { name: "small", gpus_per_node: 1, max_nodes: 1, gpu_memory_gb: 16 },
    }),
  );
  // 16 x 0.9 = 14.4 GiB; even int4 needs 32.9 GiB for the weights.
  assert.equal(report.figures.fits, false);
  assert.deepEqual(report.suggestions, []);
  assert.match(report.figures.reason!, /14\.4 GiB/);
});

Deno.test("knownShapeFor() matches names first, then the nearest size within 25%", () => {
  assert.equal(knownShapeFor(["meta-llama/Meta-Llama-3.1-8B"])?.label, "Llama 3.1 8B");
  assert.equal(knownShapeFor(["llama-3.1-8b-sim"])?.label, "Llama 3.1 8B");
  assert.equal(knownShapeFor(["org/custom"], 7)?.label, "Qwen2.5 7B");
  assert.equal(knownShapeFor(["org/custom"], 8)?.label, "Llama 3.1 8B");
  assert.equal(knownShapeFor(["org/custom"], 75)?.label, "Qwen2.5 72B");
  assert.equal(knownShapeFor(["org/custom"], 13), undefined);
  assert.equal(knownShapeFor([undefined]), undefined);
});

const LLAMA_8B_CONFIG = {
  architectures: ["LlamaForCausalLM"],
  hidden_size: 4096,
  intermediate_size: 14336,
  max_position_embeddings: 131072,
  model_type: "llama",
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 8,
  tie_word_embeddings: false,
  torch_dtype: "bfloat16",
  vocab_size: 128256,
};

Deno.test("paramsFromConfig() counts Llama 3.1 8B's and Qwen2.5 7B's parameters exactly", () => {
  // embeddings and lm_head 2 x 128,256 x 4,096 = 1,050,673,152; a layer: q and o 2 x 4,096^2 =
  // 33,554,432, k and v 2 x 4,096 x 1,024 = 8,388,608, MLP 3 x 4,096 x 14,336 = 176,160,768,
  // norms 8,192: 218,112,000 x 32 = 6,979,584,000; final norm 4,096: 8,030,261,248.
  assert.equal(paramsFromConfig(LLAMA_8B_CONFIG), 8_030_261_248);
  // Qwen2 adds q/k/v biases: 3,584 + 2 x 512 = 4,608 a layer.
  assert.equal(
    paramsFromConfig({
      hidden_size: 3584,
      intermediate_size: 18944,
      num_attention_heads: 28,
      num_hidden_layers: 28,
      num_key_value_heads: 4,
      vocab_size: 152064,
      model_type: "qwen2",
      tie_word_embeddings: false,
    }),
    7_615_616_512,
  );
});

Deno.test("readModelShape() reads a local model directory, and says what is wrong with one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tp-capacity-" });
  try {
    assert.equal(await readModelShape("meta-llama/Llama-3.1-8B"), undefined, "a hub id");
    await assert.rejects(readModelShape(dir), ModelFilesError);
    await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(LLAMA_8B_CONFIG));
    const fromShape = await readModelShape(dir);
    assert.equal(fromShape?.params, 8_030_261_248);
    assert.equal(fromShape?.headDim, 128, "hidden_size / num_attention_heads");
    assert.equal(fromShape?.kvHeads, 8);
    assert.equal(fromShape?.maxPositions, 131_072);
    // The safetensors index's stored bytes win: 16,000,000,000 B of bf16 = 8,000,000,000 params.
    await Deno.writeTextFile(
      join(dir, "model.safetensors.index.json"),
      JSON.stringify({ metadata: { total_size: 16_000_000_000 }, weight_map: {} }),
    );
    assert.equal((await readModelShape(dir))?.params, 8_000_000_000);
    await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify({ hidden_size: 1 }));
    await assert.rejects(readModelShape(dir), /config\.json: num_hidden_layers: /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

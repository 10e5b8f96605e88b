/** Reads a local model directory's `config.json` (and safetensors index) into a {@linkcode ModelShape}. */
import { join } from "node:path";
import { z } from "zod";
import { ConfigJsonSchema, type ModelShape, shapeFromConfig } from "./shapes.ts";

/** A model directory whose `config.json` cannot be used, with what is wrong. */
export class ModelFilesError extends Error {
  /** @param message what is wrong and where */
  constructor(message: string) {
    super(message);
    this.name = "ModelFilesError";
  }
}

const IndexSchema = z.object({ metadata: z.object({ total_size: z.number().positive() }) });

async function readJson(path: string): Promise<unknown | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new ModelFilesError(`cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ModelFilesError(`${path} is not JSON: ${(error as Error).message}`);
  }
}

/**
 * The shape of the model in directory `modelPath`: undefined when it is not a local directory
 * (a Hugging Face id such as `org/model`); a {@linkcode ModelFilesError} when its config.json is
 * missing or lacks what the check needs.
 */
export async function readModelShape(modelPath: string): Promise<ModelShape | undefined> {
  const isDir = await Deno.stat(modelPath).then((s) => s.isDirectory, () => false);
  if (!isDir) return undefined;
  const configPath = join(modelPath, "config.json");
  const raw = await readJson(configPath);
  if (raw === undefined) throw new ModelFilesError(`${configPath} not found`);
  const parsed = ConfigJsonSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ModelFilesError(`${configPath}: ${issue.path.join(".")}: ${issue.message}`);
  }
  const index = IndexSchema.safeParse(
    await readJson(join(modelPath, "model.safetensors.index.json")),
  );
  const shape = shapeFromConfig(parsed.data, {
    label: configPath,
    ...(index.success ? { weightBytes: index.data.metadata.total_size } : {}),
  });
  if (!shape) {
    throw new ModelFilesError(
      `${configPath} lacks vocab_size or intermediate_size to count parameters; set params_b`,
    );
  }
  return shape;
}

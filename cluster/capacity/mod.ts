/** Capacity planning: does a model fit a partition's GPUs, and if not, what would. */
export {
  ACTIVATION_OVERHEAD_GIB,
  type CapacityFigures,
  capacityFigures,
  type CapacityInput,
  type CapacityReport,
  checkCapacity,
  describeFigures,
  DTYPE_BYTES,
  GIB,
  QUANTIZATION_BYTES,
  type Suggestion,
} from "./capacity.ts";
export {
  type ConfigJson,
  ConfigJsonSchema,
  KNOWN_SHAPES,
  knownShapeFor,
  type ModelShape,
  paramsFromConfig,
  shapeFromConfig,
} from "./shapes.ts";
export { ModelFilesError, readModelShape } from "./model_files.ts";

/** The compression methods by name, as config and `POST /v1/sessions` choose them. */
import { hierarchical } from "./hierarchical.ts";
import { importance } from "./importance.ts";
import { maskObservations } from "./mask_observations.ts";
import { slidingWindow } from "./sliding_window.ts";
import { summarize } from "./summarize.ts";
import type { CompressionMethod, Compressor } from "./types.ts";

/** Every method, by its name. */
export const COMPRESSORS: Readonly<Record<CompressionMethod, Compressor>> = {
  sliding_window: slidingWindow,
  summarize,
  importance,
  hierarchical,
  mask_observations: maskObservations,
};

/** The method named `method` ("none" has none: see `contextOverflow`). */
export function compressorFor(method: CompressionMethod): Compressor {
  return COMPRESSORS[method];
}

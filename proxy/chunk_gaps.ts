/** The gaps between a stream's chunks, counted into vLLM's inter-token buckets as they arrive, and kept beside the request's record (never stored with it). */
import { INTER_TOKEN_BUCKETS_S } from "../actors/backend/vllm_buckets.ts";
import type { RequestRecord } from "./records.ts";

/** The buckets' upper bounds in ms, vLLM's `vllm:inter_token_latency_seconds` boundaries. */
export const CHUNK_GAP_BOUNDS_MS: readonly number[] = INTER_TOKEN_BUCKETS_S.map((s) => s * 1000);

/** One stream's chunk gaps: a count per bucket (the last one past every bound), their sum and number. */
export class ChunkGaps {
  /** Gaps per bucket: `counts[i]` holds those up to `CHUNK_GAP_BOUNDS_MS[i]` and above the one before. */
  readonly counts: Uint32Array = new Uint32Array(CHUNK_GAP_BOUNDS_MS.length + 1);
  /** Summed gaps, in ms. */
  sumMs = 0;
  /** Gaps counted. */
  count = 0;

  /** Counts one gap of `ms` (no allocation: this runs once per relayed chunk). */
  add(ms: number): void {
    let i = 0;
    while (i < CHUNK_GAP_BOUNDS_MS.length && ms > CHUNK_GAP_BOUNDS_MS[i]!) i++;
    this.counts[i]!++;
    this.sumMs += ms;
    this.count++;
  }
}

// Beside the record rather than in it: records go to KV and the access log, these counts do not.
const gapsOf = new WeakMap<RequestRecord, ChunkGaps>();

/** Keeps `gaps` beside `record`, for the metrics that observe it. */
export function noteChunkGaps(record: RequestRecord, gaps: ChunkGaps): void {
  gapsOf.set(record, gaps);
}

/** The chunk gaps kept beside `record`, if it was a relayed stream. */
export function chunkGapsOf(record: RequestRecord): ChunkGaps | undefined {
  return gapsOf.get(record);
}

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { CHUNK_GAP_BOUNDS_MS, ChunkGaps, chunkGapsOf, noteChunkGaps } from "./chunk_gaps.ts";
import { record } from "./_record_fixture.ts";

Deno.test("ChunkGaps counts each gap in the first of vLLM's inter-token buckets it fits, a gap on a bound included", () => {
  const gaps = new ChunkGaps();
  for (const ms of [5, 10, 10.5, 49, 100_000]) gaps.add(ms);
  assertEquals(CHUNK_GAP_BOUNDS_MS.slice(0, 3), [10, 25, 50]);
  assertEquals([...gaps.counts.slice(0, 3)], [2, 1, 1]);
  assertEquals(gaps.counts[CHUNK_GAP_BOUNDS_MS.length], 1);
  assertEquals([gaps.count, gaps.sumMs], [5, 100_074.5]);
});

Deno.test("chunkGapsOf() finds the gaps kept beside a record, and none for another", () => {
  const r = record(1);
  const gaps = new ChunkGaps();
  noteChunkGaps(r, gaps);
  assertEquals(chunkGapsOf(r), gaps);
  assertEquals(chunkGapsOf(record(2)), undefined);
  assertEquals(JSON.stringify(r).includes("counts"), false);
});

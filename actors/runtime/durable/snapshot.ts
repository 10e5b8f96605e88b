/** Snapshots in KV: inline up to one value, chunked above it, swapped in one atomic operation. */
import { z } from "zod";
import { chunkKey, chunkPrefix, snapshotKey } from "./keys.ts";

/** Bytes per chunk (a KV value holds at most 64 KiB). */
export const CHUNK_BYTES = 60 * 1024;

/** Largest snapshot: an atomic operation carries at most 800 KiB, with room for the rest. */
export const MAX_SNAPSHOT_BYTES = 640 * 1024;

/** Where a snapshot's bytes live: inline in the header (0 chunks) or in `chunks` chunk keys. */
export interface SnapshotLayout {
  version: string;
  chunks: number;
}

const HeaderSchema = z.object({
  v: z.literal(1),
  version: z.string(),
  chunks: z.number().int().min(0),
  bytes: z.number().int().min(0),
  savedAtMs: z.number(),
  data: z.instanceof(Uint8Array).optional(),
});

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Adds the writes of a new snapshot (and the deletes of the previous one's chunks) to `op`,
 * so that committing it swaps old for new in one step. Returns the new layout.
 */
export function addSnapshot(
  op: Deno.AtomicOperation,
  key: { kind: string; id: string },
  state: unknown,
  previous: SnapshotLayout | undefined,
): SnapshotLayout {
  const bytes = encoder.encode(JSON.stringify(state) ?? "null");
  if (bytes.length > MAX_SNAPSHOT_BYTES) {
    throw new RangeError(
      `Snapshot of ${key.kind}/${key.id} is ${bytes.length} bytes; the limit is ${MAX_SNAPSHOT_BYTES}: keep less state in the actor or split it`,
    );
  }
  const version = `${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}`;
  const header = { v: 1, version, bytes: bytes.length, savedAtMs: Date.now() };
  let chunks = 0;
  if (bytes.length <= CHUNK_BYTES) {
    op.set(snapshotKey(key.kind, key.id), { ...header, chunks, data: bytes });
  } else {
    chunks = Math.ceil(bytes.length / CHUNK_BYTES);
    for (let i = 0; i < chunks; i++) {
      const part = bytes.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES);
      op.set(chunkKey(key.kind, key.id, version, i), part);
    }
    op.set(snapshotKey(key.kind, key.id), { ...header, chunks });
  }
  if (previous && previous.chunks > 0 && previous.version !== version) {
    for (let i = 0; i < previous.chunks; i++) {
      op.delete(chunkKey(key.kind, key.id, previous.version, i));
    }
  }
  return { version, chunks };
}

/** Reads a snapshot's JSON value and layout, or undefined when the actor has none. */
export async function readSnapshot(
  kv: Deno.Kv,
  key: { kind: string; id: string },
): Promise<{ value: unknown; layout: SnapshotLayout } | undefined> {
  const where = `${key.kind}/${key.id}`;
  for (let attempt = 0; attempt < 5; attempt++) {
    const entry = await kv.get(snapshotKey(key.kind, key.id));
    if (entry.versionstamp === null) return undefined;
    const header = HeaderSchema.safeParse(entry.value);
    if (!header.success) {
      throw new Error(
        `Snapshot header of ${where} is malformed (${
          header.error.issues[0]?.message
        }): delete key ["actor", "${key.kind}", "${key.id}"]`,
      );
    }
    const { version, chunks, bytes } = header.data;
    let data: Uint8Array;
    if (chunks === 0) {
      data = header.data.data ?? new Uint8Array();
    } else {
      const parts: Uint8Array[] = [];
      for await (
        const c of kv.list<Uint8Array>({ prefix: chunkPrefix(key.kind, key.id, version) })
      ) {
        if (c.value instanceof Uint8Array) parts.push(c.value);
      }
      if (parts.length !== chunks) continue;
      data = new Uint8Array(bytes);
      let at = 0;
      for (const p of parts) {
        data.set(p, at);
        at += p.length;
      }
    }
    if (data.length !== bytes) continue;
    return { value: JSON.parse(decoder.decode(data)), layout: { version, chunks } };
  }
  throw new Error(
    `Snapshot of ${where} stayed incomplete after 5 reads: check for a second writer`,
  );
}

/** Values larger than one KV value (64 KiB), stored as numbered byte chunks under one key prefix. */
import type { z } from "zod";

/** Bytes per chunk, under KV's 64 KiB value limit. */
export const CHUNK_BYTES = 60 * 1024;

/** The most bytes one record may take: an atomic operation carries at most 800 KiB in all. */
export const MAX_RECORD_BYTES = 600 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Thrown when a record is larger than {@linkcode MAX_RECORD_BYTES}. */
export class RecordTooLargeError extends Error {
  /** Its size in bytes. */
  readonly bytes: number;

  /** @param bytes the record's size */
  constructor(bytes: number) {
    super(`the record is ${bytes} bytes; at most ${MAX_RECORD_BYTES} fit one commit`);
    this.name = "RecordTooLargeError";
    this.bytes = bytes;
  }
}

/** `value` as the JSON bytes a chunked record holds; throws {@linkcode RecordTooLargeError}. */
export function encodeRecord(value: unknown): Uint8Array {
  const bytes = encoder.encode(JSON.stringify(value));
  if (bytes.length > MAX_RECORD_BYTES) throw new RecordTooLargeError(bytes.length);
  return bytes;
}

/** Adds the writes of encoded `bytes`, as chunks `[...key, 0]`, `[...key, 1]`, ..., to `op`. */
export function setBytes(op: Deno.AtomicOperation, key: Deno.KvKey, bytes: Uint8Array): number {
  const chunks = Math.max(1, Math.ceil(bytes.length / CHUNK_BYTES));
  for (let i = 0; i < chunks; i++) {
    op.set([...key, i], bytes.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES));
  }
  return bytes.length;
}

/** Adds the writes of `value`, as JSON chunks `[...key, 0]`, `[...key, 1]`, ..., to `op`. */
export function setChunked(op: Deno.AtomicOperation, key: Deno.KvKey, value: unknown): number {
  return setBytes(op, key, encodeRecord(value));
}

/**
 * Reads the chunked records under `prefix` whose next key part lies in [start, end), in key order,
 * each parsed with `schema`. A record whose chunks do not parse is skipped and reported to `onBad`.
 */
export async function listChunked<T>(
  kv: Deno.Kv,
  prefix: Deno.KvKey,
  range: { start?: number; end?: number; limit?: number },
  schema: z.ZodType<T>,
  onBad: (key: Deno.KvKey, error: string) => void = () => {},
): Promise<T[]> {
  const selector: Deno.KvListSelector = range.start === undefined && range.end === undefined
    ? { prefix }
    : {
      start: [...prefix, range.start ?? 0],
      end: [...prefix, range.end ?? Number.MAX_SAFE_INTEGER],
    };
  const out: T[] = [];
  let current: Deno.KvKeyPart | undefined;
  let parts: Uint8Array[] = [];
  const flush = () => {
    if (current === undefined) return;
    const key = [...prefix, current];
    try {
      const parsed = schema.safeParse(JSON.parse(decoder.decode(concat(parts))));
      if (parsed.success) out.push(parsed.data);
      else onBad(key, parsed.error.message);
    } catch (error) {
      onBad(key, error instanceof Error ? error.message : String(error));
    }
  };
  let distinct = 0;
  for await (const entry of kv.list<Uint8Array>(selector)) {
    const part = entry.key[prefix.length];
    const index = entry.key[prefix.length + 1];
    if (part === undefined || typeof index !== "number" || !(entry.value instanceof Uint8Array)) {
      continue;
    }
    if (part !== current) {
      flush();
      if (range.limit !== undefined && ++distinct > range.limit) return out;
      current = part;
      parts = [];
    }
    parts[index] = entry.value;
  }
  flush();
  return out;
}

/** Adds deletes of every chunk under `key` (a record of at most `chunks` chunks) to `op`. */
export function deleteChunked(op: Deno.AtomicOperation, key: Deno.KvKey, chunks: number): void {
  for (let i = 0; i < chunks; i++) op.delete([...key, i]);
}

function concat(parts: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p?.byteLength ?? 0;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    if (!p) continue;
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

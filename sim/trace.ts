/** The Mooncake-style trace: parsing, block hashes for direct replay, block text for HTTP replay. */
import { z } from "zod";
import { APPROX_CHARS_PER_TOKEN } from "./tokens.ts";
import { BLOCK_TOKENS } from "./kv_cache.ts";
import { mix32, tokenText } from "./text.ts";

/** One line of the trace. */
export const TraceRecordSchema = z.object({
  /** Arrival, ms from the start of the trace. */
  timestamp: z.number().min(0),
  /** Prompt tokens. */
  input_length: z.number().int().min(1),
  /** Generated tokens. */
  output_length: z.number().int().min(1),
  /** One id per 512-token block; equal leading ids mean a shared prefix. */
  hash_ids: z.array(z.number().int()),
});

/** One trace request. */
export type TraceRecord = z.infer<typeof TraceRecordSchema>;

/** Parses JSON lines; a bad line throws naming its line number. */
export function parseTrace(text: string): TraceRecord[] {
  const out: TraceRecord[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    const parsed = TraceRecordSchema.safeParse(JSON.parse(line));
    if (!parsed.success) {
      throw new Error(
        `Trace line ${i + 1} is not a trace record: ${
          parsed.error.issues[0]?.message ?? "invalid"
        }`,
      );
    }
    out.push(parsed.data);
  }
  return out;
}

/** Chained block hashes of a trace request, for submitting it straight to an engine. */
export function traceBlockHashes(record: TraceRecord): number[] {
  const full = Math.min(record.hash_ids.length, Math.floor(record.input_length / BLOCK_TOKENS));
  const out: number[] = new Array(full);
  let h = 0x2545f491;
  for (let i = 0; i < full; i++) {
    h = mix32(h, record.hash_ids[i]!);
    out[i] = h;
  }
  return out;
}

/**
 * A fixed 2,048-character text for block `hashId` (512 tokens in approx mode): the same id
 * always gives the same text, so prompts that share ids share a textual prefix.
 */
export function traceBlockText(hashId: number): string {
  const chars = BLOCK_TOKENS * APPROX_CHARS_PER_TOKEN;
  let text = `[${hashId}]`;
  for (let i = 0; text.length < chars; i++) text += tokenText(hashId, i + 1);
  return text.slice(0, chars);
}

/** The prompt text of a trace request for an HTTP replay in approx mode (input_length x 4 chars). */
export function tracePromptText(record: TraceRecord): string {
  const chars = record.input_length * APPROX_CHARS_PER_TOKEN;
  const parts: string[] = [];
  let length = 0;
  for (const id of record.hash_ids) {
    if (length >= chars) break;
    const block = traceBlockText(id);
    parts.push(block);
    length += block.length;
  }
  return parts.join("").slice(0, chars);
}

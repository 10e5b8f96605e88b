/**
 * Mooncake-format traces, for the simulator's replays and the routing benchmark alike: parsing,
 * chained block hashes for direct replay, and the prompt text each request's hash ids stand for.
 */
import { z } from "zod";
import { BLOCK_TOKENS } from "./kv_cache.ts";
import { mix32, tokenText } from "./text.ts";

/** One request of a Mooncake-format trace (one JSON object per line). */
export const TraceRequestSchema = z.object({
  /** Arrival time in ms from the start of the trace. */
  timestamp: z.number().nonnegative(),
  /** Prompt tokens. */
  input_length: z.number().int().positive(),
  /** Tokens to generate. */
  output_length: z.number().int().positive(),
  /** One id per 512-token block of the prompt; equal leading ids mean a shared prefix. */
  hash_ids: z.array(z.number().int().nonnegative()),
  /**
   * The conversation the request belongs to, where the trace knows it (a single-turn request has
   * one of its own); without it a replay infers conversations from the shared hash ids.
   */
  session_id: z.string().min(1).max(256).optional(),
});

/** One parsed trace request. */
export type TraceRequest = z.infer<typeof TraceRequestSchema>;

/** A trace line that is not a valid request. */
export class TraceError extends Error {
  /** @param message what is wrong, with the line number */
  constructor(message: string) {
    super(message);
    this.name = "TraceError";
  }
}

/**
 * Parses a JSON-lines trace, skipping blank lines, and returns its requests in arrival order
 * (stable for equal timestamps). Throws {@linkcode TraceError} naming the first bad line.
 */
export function parseTrace(text: string, source = "trace"): TraceRequest[] {
  const requests: TraceRequest[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      throw new TraceError(`${source}:${i + 1}: not JSON; give one JSON object per line`);
    }
    const parsed = TraceRequestSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new TraceError(
        `${source}:${i + 1}: ${issue.path.join(".") || "line"}: ${issue.message}; ` +
          "expected timestamp, input_length, output_length and hash_ids",
      );
    }
    requests.push(parsed.data);
  }
  return requests.map((r, i) => ({ r, i }))
    .sort((a, b) => a.r.timestamp - b.r.timestamp || a.i - b.i)
    .map(({ r }) => r);
}

/** Chained block hashes of a trace request, for submitting it straight to an engine. */
export function traceBlockHashes(request: TraceRequest): number[] {
  const full = Math.min(request.hash_ids.length, Math.floor(request.input_length / BLOCK_TOKENS));
  const out: number[] = new Array(full);
  let h = 0x2545f491;
  for (let i = 0; i < full; i++) {
    h = mix32(h, request.hash_ids[i]!);
    out[i] = h;
  }
  return out;
}

/**
 * The text a hash id stands for: exactly `chars` characters, opened by the id itself and then
 * the simulator's 4-character words seeded by it, so the same id always gives the same text and
 * two ids never give the same block.
 */
export function blockText(id: number, chars: number): string {
  const parts = [`[${id}]`];
  let length = parts[0]!.length;
  for (let i = 1; length < chars; i++) {
    const word = tokenText(id, i);
    parts.push(word);
    length += word.length;
  }
  return parts.join("").slice(0, chars);
}

/** Options of {@linkcode promptText}. */
export interface PromptTextOptions {
  /** Characters a block of the trace stands for (tokens per block times characters per token). */
  blockChars: number;
  /** Characters per token: the prompt is `input_length` times this long. */
  charsPerToken: number;
  /**
   * Characters the server's chat template puts before the message text; the first block is
   * shortened by it, so the rendered prompt's block boundaries fall where the trace's do.
   * @default 0
   */
  templateChars?: number;
}

/**
 * The prompt text of a trace request: its hash ids' blocks in order, cut to `input_length`
 * tokens (less the template's share), so requests sharing leading ids share a textual prefix.
 */
export function promptText(request: TraceRequest, options: PromptTextOptions): string {
  const template = options.templateChars ?? 0;
  const total = Math.max(1, request.input_length * options.charsPerToken - template);
  const parts: string[] = [];
  let length = 0;
  for (let i = 0; i < request.hash_ids.length && length < total; i++) {
    let block = blockText(request.hash_ids[i]!, options.blockChars);
    if (i === 0 && template > 0) block = block.slice(0, Math.max(0, options.blockChars - template));
    parts.push(block);
    length += block.length;
  }
  // A trace whose lengths run past its ids is padded with text of no id.
  if (length < total) parts.push(" pad".repeat(Math.ceil((total - length) / 4)));
  return parts.join("").slice(0, total);
}

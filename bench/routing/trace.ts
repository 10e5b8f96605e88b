/** Mooncake-format traces: parsing, conversations, the ideal prefix-cache ceiling and the text each hash id stands for. */
import { z } from "zod";

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

interface TrieNode {
  children: Map<number, TrieNode>;
  /** The conversation of the latest request through this node, and that request's block count. */
  conversation: number;
  blocks: number;
}

function newNode(): TrieNode {
  return { children: new Map(), conversation: -1, blocks: 0 };
}

/**
 * Assigns each request (in the given order) a conversation number. A request continues the
 * conversation of the latest earlier request it shares its longest leading run of hash ids with,
 * when that run covers at least half of that request's blocks (a next turn repeats the history);
 * otherwise (a shared system prompt at most) it starts a new conversation.
 */
export function conversations(requests: readonly TraceRequest[]): number[] {
  const root = newNode();
  const result: number[] = [];
  let next = 0;
  for (const r of requests) {
    let node = root;
    let depth = 0;
    for (const id of r.hash_ids) {
      const child = node.children.get(id);
      if (child === undefined) break;
      node = child;
      depth++;
    }
    const continues = depth > 0 && depth * 2 >= node.blocks;
    const conversation = continues ? node.conversation : next++;
    result.push(conversation);
    node = root;
    for (const id of r.hash_ids) {
      let child = node.children.get(id);
      if (child === undefined) {
        child = newNode();
        node.children.set(id, child);
      }
      child.conversation = conversation;
      child.blocks = r.hash_ids.length;
      node = child;
    }
  }
  return result;
}

/**
 * The ideal prefix-cache hit rate of a trace: the share of all prompt blocks that were already
 * seen, as a leading run, by an earlier request (an infinite cache shared by every replica).
 */
export function idealHitRate(requests: readonly TraceRequest[]): number {
  const root = newNode();
  let hits = 0;
  let total = 0;
  for (const r of requests) {
    let node = root;
    let seen = true;
    for (const id of r.hash_ids) {
      let child = node.children.get(id);
      if (child === undefined) {
        seen = false;
        child = newNode();
        node.children.set(id, child);
      } else if (seen) {
        hits++;
      }
      node = child;
    }
    total += r.hash_ids.length;
  }
  return total === 0 ? 0 : hits / total;
}

const WORDS = [
  "agent",
  "tool",
  "result",
  "query",
  "context",
  "plan",
  "step",
  "answer",
  "file",
  "search",
  "model",
  "token",
  "cache",
  "replica",
  "session",
  "output",
  "input",
  "error",
  "retry",
  "value",
  "the",
  "of",
  "and",
  "to",
  "in",
  "is",
  "for",
  "with",
  "on",
  "as",
  "by",
  "from",
  "that",
  "this",
  "function",
  "return",
  "const",
  "let",
  "data",
  "user",
  "system",
  "call",
  "list",
  "map",
  "node",
];

/**
 * The text a hash id stands for: exactly `chars` characters of words drawn from a generator
 * seeded by the id, opened by the id itself, so the same id always gives the same text and two
 * ids never give the same block.
 */
export function blockText(id: number, chars: number): string {
  let state = (id ^ 0x5bd1e995) >>> 0;
  const parts: string[] = [`[${id}]`];
  let length = parts[0]!.length;
  while (length < chars) {
    // mulberry32 step.
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    const word = WORDS[((t ^ (t >>> 14)) >>> 0) % WORDS.length]!;
    parts.push(" ", word);
    length += 1 + word.length;
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

/** Options of {@linkcode cappedHitRate}. */
export interface CappedHitRateOptions {
  /** Replicas, each with its own cache. */
  replicas: number;
  /** Blocks each replica's cache holds (its KV budget in tokens over the block size). */
  blocksPerReplica: number;
}

/**
 * A reference hit rate for finite caches: every conversation pinned to one replica (the one
 * with the fewest requests when it starts), each replica's cache an LRU of `blocksPerReplica`
 * blocks. It is what perfect session affinity reaches when the cache, not the router, is the
 * limit (running sequences also take KV space on a real replica, so this stays above what one
 * measures).
 */
export function cappedHitRate(
  requests: readonly TraceRequest[],
  options: CappedHitRateOptions,
): number {
  const n = Math.max(1, options.replicas);
  const capacity = Math.max(1, options.blocksPerReplica);
  const caches = Array.from({ length: n }, () => new Map<string, true>());
  const counts = new Array<number>(n).fill(0);
  const homes = new Map<number, number>();
  const convs = conversations(requests);
  let hits = 0;
  let total = 0;
  requests.forEach((r, i) => {
    const conv = convs[i]!;
    let home = homes.get(conv);
    if (home === undefined) {
      home = counts.indexOf(Math.min(...counts));
      homes.set(conv, home);
    }
    counts[home]!++;
    const cache = caches[home]!;
    // Chained keys: a block is the same only after the same prefix.
    const keys: string[] = [];
    let key = "";
    for (const id of r.hash_ids) {
      key = `${key}/${id}`;
      keys.push(key);
    }
    let matched = 0;
    while (matched < keys.length && cache.has(keys[matched]!)) matched++;
    hits += matched;
    total += keys.length;
    for (let k = Math.min(keys.length, capacity) - 1; k >= 0; k--) {
      cache.delete(keys[k]!);
      cache.set(keys[k]!, true);
    }
    while (cache.size > capacity) cache.delete(cache.keys().next().value!);
  });
  return total === 0 ? 0 : hits / total;
}

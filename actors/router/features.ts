/** What the router needs to know of a request, computed once on the hot path: model, session, prefix block hashes. */
import type { RequestFeatures } from "./strategies/mod.ts";

/** Options of {@linkcode requestFeatures}. */
export interface RequestFeaturesOptions {
  /** The session header's value, if the request carried one. */
  sessionId: string | undefined;
  /** Characters per prefix block; only whole blocks are hashed. */
  blockChars: number;
  /**
   * Also return the prompt's text as hashed ({@linkcode RequestFeatures.promptText}), for the
   * strategies that read it (`needsPromptText`). Off by default: the prompt is then never copied.
   */
  promptText?: boolean;
}

// Separators fed into the hash between a message's role and content and after each message, so
// that moving text from one message to the next changes the hashes.
const ROLE_END = 0x1e;
const MESSAGE_END = 0x1f;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const LANE2_OFFSET = 0x9e3779b9;
const LANE2_PRIME = 0x85ebca6b;
const TWO_POW_32 = 0x1_0000_0000;

/**
 * A running hash over a stream of UTF-16 code units that records its value at every block
 * boundary, so hash i covers blocks 0..i. Two 32-bit lanes make a 52-bit value (collisions among
 * a replica's few thousand cached blocks are then out of reach). It walks strings in place: no
 * copy of the prompt is made.
 */
class BlockHasher {
  readonly hashes: number[] = [];
  /** The pieces of the stream in order, when the prompt text is asked for. */
  readonly parts: string[] | undefined;
  chars = 0;
  #h1 = FNV_OFFSET;
  #h2 = LANE2_OFFSET;
  #inBlock = 0;
  readonly #blockChars: number;

  constructor(blockChars: number, keepText: boolean) {
    this.#blockChars = blockChars;
    this.parts = keepText ? [] : undefined;
  }

  feedString(text: string): void {
    this.parts?.push(text);
    const n = text.length;
    let h1 = this.#h1;
    let h2 = this.#h2;
    let inBlock = this.#inBlock;
    const blockChars = this.#blockChars;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, FNV_PRIME);
      h2 = Math.imul(h2 ^ c, LANE2_PRIME);
      if (++inBlock === blockChars) {
        this.hashes.push(combine(h1, h2));
        inBlock = 0;
      }
    }
    this.#h1 = h1;
    this.#h2 = h2;
    this.#inBlock = inBlock;
    this.chars += n;
  }

  feedCode(c: number): void {
    this.parts?.push(String.fromCharCode(c));
    this.#h1 = Math.imul(this.#h1 ^ c, FNV_PRIME);
    this.#h2 = Math.imul(this.#h2 ^ c, LANE2_PRIME);
    this.chars += 1;
    if (++this.#inBlock === this.#blockChars) {
      this.hashes.push(combine(this.#h1, this.#h2));
      this.#inBlock = 0;
    }
  }
}

function combine(h1: number, h2: number): number {
  // Finalise each lane (avalanche) so nearby streams spread, then join 32 + 20 bits.
  let a = h1 ^ (h1 >>> 16);
  a = Math.imul(a, 0x7feb352d);
  a ^= a >>> 15;
  let b = h2 ^ (h2 >>> 15);
  b = Math.imul(b, 0x846ca68b);
  b ^= b >>> 16;
  return (a >>> 0) + (b & 0xfffff) * TWO_POW_32;
}

function feedContent(hasher: BlockHasher, content: unknown): void {
  if (typeof content === "string") {
    hasher.feedString(content);
    return;
  }
  if (!Array.isArray(content)) return;
  for (const part of content) {
    if (typeof part === "string") {
      hasher.feedString(part);
    } else if (typeof part === "object" && part !== null) {
      const p = part as Record<string, unknown>;
      if (typeof p.text === "string") hasher.feedString(p.text);
      else if (typeof p.image_url === "object" && p.image_url !== null) {
        const url = (p.image_url as Record<string, unknown>).url;
        if (typeof url === "string") hasher.feedString(url);
      }
    }
  }
}

function feedPrompt(hasher: BlockHasher, prompt: unknown): void {
  if (typeof prompt === "string") {
    hasher.feedString(prompt);
    return;
  }
  if (!Array.isArray(prompt)) return;
  for (const item of prompt) {
    if (typeof item === "string") {
      hasher.feedString(item);
      hasher.feedCode(MESSAGE_END);
    } else if (typeof item === "number") {
      // A pre-tokenised prompt: each token id goes in as two code units.
      hasher.feedCode(item & 0xffff);
      hasher.feedCode((item >>> 16) & 0xffff);
    } else if (Array.isArray(item)) {
      feedPrompt(hasher, item);
      hasher.feedCode(MESSAGE_END);
    }
  }
}

/**
 * Reads the routing features of an OpenAI request body: its model, the session, and chained
 * hashes of the prompt's leading whole blocks of `blockChars` characters. The prompt is the chat
 * `messages` (roles and string or content-part contents) or the completion `prompt`. It never
 * tokenises, and copies the prompt only when `promptText` asks for it; a body of another shape
 * yields no hashes.
 *
 * @example
 * ```ts
 * const features = requestFeatures(body, { sessionId: req.headers.get("x-session-id") ?? undefined, blockChars: 2048 });
 * ```
 */
export function requestFeatures(body: unknown, options: RequestFeaturesOptions): RequestFeatures {
  const blockChars = Math.max(1, Math.floor(options.blockChars));
  const hasher = new BlockHasher(blockChars, options.promptText === true);
  let model = "";
  if (typeof body === "object" && body !== null) {
    const b = body as Record<string, unknown>;
    if (typeof b.model === "string") model = b.model;
    if (Array.isArray(b.messages)) {
      for (const message of b.messages) {
        if (typeof message !== "object" || message === null) continue;
        const m = message as Record<string, unknown>;
        if (typeof m.role === "string") hasher.feedString(m.role);
        hasher.feedCode(ROLE_END);
        feedContent(hasher, m.content);
        hasher.feedCode(MESSAGE_END);
      }
    } else if (b.prompt !== undefined) {
      feedPrompt(hasher, b.prompt);
    }
  }
  const features: RequestFeatures = {
    model,
    sessionId: options.sessionId,
    prefixHashes: hasher.hashes,
    promptChars: hasher.chars,
  };
  if (hasher.parts !== undefined) features.promptText = hasher.parts.join("");
  return features;
}

/**
 * Prompt tokens and prefix-block hashes: a real Llama 3 tokenizer, or a fast 4-characters-a-token
 * estimate. Blocks are hashed chained, over the prompt and then the generated tokens, as vLLM's
 * prefix cache hashes every full block of a sequence.
 */
import { BLOCK_TOKENS } from "./kv_cache.ts";

/** Characters per token in the approximate mode. */
export const APPROX_CHARS_PER_TOKEN = 4;

/** How prompts are counted: `exact` runs the Llama 3 tokenizer, `approx` counts 4 characters a token. */
export type TokenizerMode = "exact" | "approx";

/** A prompt as the engine needs it. */
export interface PromptTokens {
  /** Tokens, template included. */
  tokens: number;
  /** Chained hashes of the full 512-token blocks. */
  blockHashes: number[];
  /** Hash of the whole prompt (the last block's chain continued over the tail). */
  promptHash: number;
  /**
   * Chained hashes of every full block of this prompt followed by `pieces`, the texts of the
   * generated tokens (one token each): the hashes the next turn's prompt gets for the same tokens.
   */
  withOutput(pieces: readonly string[]): number[];
}

/** Counts a rendered prompt's tokens and hashes its blocks. */
export interface PromptTokenizer {
  /** Which mode it is. */
  readonly mode: TokenizerMode;
  /** Counts `text` (a rendered prompt, special tokens written out) and hashes its blocks. */
  tokenize(text: string): PromptTokens;
  /** Counts a prompt given as token ids (the beginning-of-text token goes first) and hashes its blocks. */
  tokenizeIds(ids: readonly number[]): PromptTokens;
  /**
   * Splits `text` into the texts of its tokens, as a model generates it: one piece a token, joined
   * they are `text`, and `withOutput` of them hashes as a prompt containing `text` does.
   */
  pieces(text: string): string[];
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const BLOCK_CHARS = BLOCK_TOKENS * APPROX_CHARS_PER_TOKEN;
/** Llama 3's `<|begin_of_text|>`. */
const BEGIN_OF_TEXT_ID = 128_000;

/** FNV-1a over the UTF-16 code units of `text[start, end)`, continuing from `seed`. */
export function hashText(text: string, start: number, end: number, seed = FNV_OFFSET): number {
  let h = seed >>> 0;
  for (let i = start; i < end; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

/** FNV-1a over token ids `ids[start, end)`, continuing from `seed`. */
export function hashIds(
  ids: readonly number[],
  start: number,
  end: number,
  seed = FNV_OFFSET,
): number {
  let h = seed >>> 0;
  for (let i = start; i < end; i++) {
    const id = ids[i]!;
    h ^= id & 0xffff;
    h = Math.imul(h, FNV_PRIME);
    h ^= id >>> 16;
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

/** A sequence's units (characters or token ids) and how to hash a run of them. */
interface Units<T extends string | readonly number[]> {
  units: T;
  hash(units: T, start: number, end: number, seed: number): number;
  /** Units per block. */
  blockUnits: number;
}

/**
 * Appends to `into` the chained hashes of the full blocks of `u`, continuing from `seed`; returns
 * the chain's value after the last full block.
 */
function chainBlocks<T extends string | readonly number[]>(
  into: number[],
  u: Units<T>,
  seed: number,
): number {
  let h = seed;
  const blocks = Math.floor(u.units.length / u.blockUnits);
  for (let b = 0; b < blocks; b++) {
    h = u.hash(u.units, b * u.blockUnits, (b + 1) * u.blockUnits, h);
    into.push(h);
  }
  return h;
}

/** Counts and hashes a prompt of `units`; its output pieces become units through `outputUnits`. */
function countPrompt<T extends string | readonly number[]>(
  u: Units<T>,
  tokens: number,
  outputUnits: (tail: T, pieces: readonly string[]) => T,
): PromptTokens {
  const blockHashes: number[] = [];
  const h = chainBlocks(blockHashes, u, FNV_OFFSET);
  const tailStart = blockHashes.length * u.blockUnits;
  const promptHash = u.hash(u.units, tailStart, u.units.length, h);
  return {
    tokens,
    blockHashes,
    promptHash,
    withOutput(pieces) {
      const all = blockHashes.slice();
      const tail = u.units.slice(tailStart) as T;
      chainBlocks(all, { ...u, units: outputUnits(tail, pieces) }, h);
      return all;
    },
  };
}

/** Counts and hashes a prompt of token ids; `pieceIds` turns a generated token's text into ids. */
function countIds(
  ids: readonly number[],
  pieceIds: (piece: string) => readonly number[],
): PromptTokens {
  return countPrompt(
    { units: ids, hash: hashIds, blockUnits: BLOCK_TOKENS },
    ids.length,
    (tail, pieces) => [...tail, ...pieces.flatMap(pieceIds)],
  );
}

/** The approximate tokenizer: a token is 4 characters, a block is 2,048 characters. */
export const approxTokenizer: PromptTokenizer = {
  mode: "approx",
  tokenize(text) {
    return countPrompt(
      { units: text, hash: hashText, blockUnits: BLOCK_CHARS },
      Math.ceil(text.length / APPROX_CHARS_PER_TOKEN),
      (tail, pieces) => tail + pieces.join(""),
    );
  },
  tokenizeIds(ids) {
    // No vocabulary here: a generated token stands for the hash of its text.
    return countIds([BEGIN_OF_TEXT_ID, ...ids], (piece) => [hashText(piece, 0, piece.length)]);
  },
  pieces(text) {
    const pieces: string[] = [];
    for (let i = 0; i < text.length; i += APPROX_CHARS_PER_TOKEN) {
      pieces.push(text.slice(i, i + APPROX_CHARS_PER_TOKEN));
    }
    return pieces;
  },
};

interface Llama3Encoder {
  encode(prompt: string, options?: { bos?: boolean; eos?: boolean }): number[];
  decode(ids: number[]): string;
}

/** Output pieces come from a small vocabulary; past this many distinct ones they are not cached. */
const MAX_CACHED_PIECES = 4096;

/** Wraps a Llama 3 encoder: special tokens written in the text count as one token each. */
function exactTokenizer(encoder: Llama3Encoder): PromptTokenizer {
  const encode = (text: string) => encoder.encode(text, { bos: false, eos: false });
  const pieceCache = new Map<string, readonly number[]>();
  const pieceIds = (piece: string): readonly number[] => {
    let ids = pieceCache.get(piece);
    if (ids === undefined) {
      ids = encode(piece);
      if (pieceCache.size < MAX_CACHED_PIECES) pieceCache.set(piece, ids);
    }
    return ids;
  };
  return {
    mode: "exact",
    tokenize(text) {
      return countIds(encode(text), pieceIds);
    },
    tokenizeIds(ids) {
      return countIds([BEGIN_OF_TEXT_ID, ...ids], pieceIds);
    },
    pieces(text) {
      const pieces: string[] = [];
      let pending: number[] = [];
      for (const id of encode(text)) {
        pending.push(id);
        const piece = encoder.decode(pending);
        // A token holding part of a character's UTF-8 bytes decodes to U+FFFD: it goes out with
        // the tokens that complete the character.
        if (piece.endsWith("\uFFFD") && !text.includes("\uFFFD")) continue;
        pieces.push(piece);
        pending = [];
      }
      if (pending.length) pieces.push(encoder.decode(pending));
      return pieces;
    },
  };
}

/** Makes a tokenizer; `exact` loads the Llama 3 vocabulary (a few hundred ms, once). */
export async function createTokenizer(mode: TokenizerMode): Promise<PromptTokenizer> {
  if (mode === "approx") return approxTokenizer;
  const module = await import("llama3-tokenizer-js");
  return exactTokenizer(module.default);
}

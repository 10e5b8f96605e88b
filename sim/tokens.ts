/** Prompt tokens and prefix-block hashes: a real Llama 3 tokenizer, or a fast 4-characters-a-token estimate. */
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
}

/** Counts a rendered prompt's tokens and hashes its blocks. */
export interface PromptTokenizer {
  /** Which mode it is. */
  readonly mode: TokenizerMode;
  /** Counts `text` (a rendered prompt, special tokens written out) and hashes its blocks. */
  tokenize(text: string): PromptTokens;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

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

/** The approximate tokenizer: a token is 4 characters, a block is 2,048 characters. */
export const approxTokenizer: PromptTokenizer = {
  mode: "approx",
  tokenize(text) {
    const blockChars = BLOCK_TOKENS * APPROX_CHARS_PER_TOKEN;
    const blocks = Math.floor(text.length / blockChars);
    const blockHashes: number[] = new Array(blocks);
    let h = FNV_OFFSET;
    for (let b = 0; b < blocks; b++) {
      h = hashText(text, b * blockChars, (b + 1) * blockChars, h);
      blockHashes[b] = h;
    }
    const promptHash = hashText(text, blocks * blockChars, text.length, h);
    return { tokens: Math.ceil(text.length / APPROX_CHARS_PER_TOKEN), blockHashes, promptHash };
  },
};

interface Llama3Encoder {
  encode(prompt: string, options?: { bos?: boolean; eos?: boolean }): number[];
}

/** Wraps a Llama 3 encoder: special tokens written in the text count as one token each. */
function exactTokenizer(encoder: Llama3Encoder): PromptTokenizer {
  return {
    mode: "exact",
    tokenize(text) {
      const ids = encoder.encode(text, { bos: false, eos: false });
      const blocks = Math.floor(ids.length / BLOCK_TOKENS);
      const blockHashes: number[] = new Array(blocks);
      let h = FNV_OFFSET;
      for (let b = 0; b < blocks; b++) {
        h = hashIds(ids, b * BLOCK_TOKENS, (b + 1) * BLOCK_TOKENS, h);
        blockHashes[b] = h;
      }
      const promptHash = hashIds(ids, blocks * BLOCK_TOKENS, ids.length, h);
      return { tokens: ids.length, blockHashes, promptHash };
    },
  };
}

/** Makes a tokenizer; `exact` loads the Llama 3 vocabulary (a few hundred ms, once). */
export async function createTokenizer(mode: TokenizerMode): Promise<PromptTokenizer> {
  if (mode === "approx") return approxTokenizer;
  const module = await import("llama3-tokenizer-js");
  return exactTokenizer(module.default);
}

/** One chat message with its text already flattened. */
export interface ChatTurn {
  /** `system`, `user`, `assistant`, `tool`... */
  role: string;
  /** Its text. */
  content: string;
}

const LLAMA31_SYSTEM_PREAMBLE =
  "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n";

/**
 * Renders messages with Llama 3.1's chat template (as vLLM applies it): the system header with its
 * knowledge-date preamble, one header and `<|eot_id|>` per message, and the assistant header.
 */
export function renderChat(messages: readonly ChatTurn[]): string {
  const parts: string[] = ["<|begin_of_text|>"];
  let rest = messages;
  let system = "";
  if (messages[0]?.role === "system" || messages[0]?.role === "developer") {
    system = messages[0].content;
    rest = messages.slice(1);
  }
  parts.push(
    "<|start_header_id|>system<|end_header_id|>\n\n",
    LLAMA31_SYSTEM_PREAMBLE,
    system,
    "<|eot_id|>",
  );
  for (const m of rest) {
    const role = m.role === "tool" ? "ipython" : m.role;
    parts.push("<|start_header_id|>", role, "<|end_header_id|>\n\n", m.content, "<|eot_id|>");
  }
  parts.push("<|start_header_id|>assistant<|end_header_id|>\n\n");
  return parts.join("");
}

/** Renders a completion prompt: the beginning-of-text token, then the text. */
export function renderCompletion(prompt: string): string {
  return "<|begin_of_text|>" + prompt;
}

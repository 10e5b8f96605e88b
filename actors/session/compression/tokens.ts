/** Token counts of chat messages as a Llama 3 model sees them: the real tokenizer, or a fast estimate. */
import { type ChatMessage, contentText } from "../messages.ts";
import { loadLlama3 } from "./llama3.ts";

/**
 * The chat template's tokens around each message besides its role:
 * `<|start_header_id|>`, `<|end_header_id|>`, the `\n\n` after the header and `<|eot_id|>`.
 * With the role itself (one token for system, user and assistant, two for ipython) a message
 * costs about 5 tokens more than its content. Counting the parts apart matches the tokenizer on
 * the rendered message, since the special tokens and `\n\n` split the text there anyway.
 */
export const MESSAGE_TEMPLATE_TOKENS = 4;

/** Characters per token of the approximate counter. */
export const APPROX_CHARS_PER_TOKEN = 4;

/** Counts tokens of text and of chat messages. */
export interface TokenCounter {
  /** Tokens of `text`, without any special token. */
  countText(text: string): number;
  /** Tokens of `message` as the chat template renders it, header and end-of-turn included. */
  countMessage(message: ChatMessage): number;
}

/** Llama 3's template renders the tool role as `ipython`. */
function templateRole(message: ChatMessage): string {
  return message.role === "tool" ? "ipython" : message.role;
}

/**
 * The text a message adds besides its header: its content, an assistant's tool calls as the JSON
 * Llama 3.1 renders them (`{"name": ..., "parameters": ...}`), and a tool result's call id.
 */
function messageBody(message: ChatMessage): string[] {
  const parts = [contentText(message)];
  if (message.role === "assistant") {
    for (const call of message.tool_calls ?? []) {
      parts.push(`{"name": ${JSON.stringify(call.function.name)}, "parameters": `);
      parts.push(call.function.arguments, "}");
    }
  } else if (message.role === "tool") {
    parts.push(message.tool_call_id);
  }
  return parts;
}

/** A counter whose messages cost their role, their body and the template's tokens. */
function counterOf(countText: (text: string) => number): TokenCounter {
  return {
    countText,
    countMessage(message) {
      let tokens = MESSAGE_TEMPLATE_TOKENS + countText(templateRole(message));
      for (const part of messageBody(message)) tokens += part === "" ? 0 : countText(part);
      return tokens;
    },
  };
}

/** A fast estimate, 4 characters a token: for tests and where the vocabulary is not loaded. */
export const approxTokenCounter: TokenCounter = counterOf((text) =>
  Math.ceil(text.length / APPROX_CHARS_PER_TOKEN)
);

let exact: Promise<TokenCounter> | undefined;

/** Text is encoded in pieces of at most this many characters, cut after a whitespace where one is near. */
export const ENCODE_CHUNK_CHARS = 16_384;

/**
 * Past this many characters a text is counted by the estimate: it is far past any model's context
 * (so the exact count changes no decision), and encoding it would hold the session's actor for
 * seconds.
 */
export const EXACT_MAX_CHARS = 1_048_576;

/**
 * Counts `text` with `encode` piece by piece: llama3-tokenizer-js's `encode` recursed over one
 * pre-token, so a long run without a space (a minified file, base64) overflowed its stack; the
 * pieces keep the counts it gave and bound the counter's scratch arrays.
 */
export function countInPieces(text: string, encode: (piece: string) => number): number {
  if (text.length > EXACT_MAX_CHARS) return approxTokenCounter.countText(text);
  let tokens = 0;
  let start = 0;
  while (start < text.length) {
    let end = Math.min(text.length, start + ENCODE_CHUNK_CHARS);
    if (end < text.length) {
      const space = text.lastIndexOf(" ", end);
      if (space > start + ENCODE_CHUNK_CHARS / 2) end = space;
    }
    tokens += encode(text.slice(start, end));
    start = end;
  }
  return tokens;
}

/**
 * The Llama 3 tokenizer's counter; its vocabulary loads once (a few hundred ms) into compact
 * tables (llama3.ts, ~8 MB off the heap) and is shared.
 */
export function loadTokenCounter(): Promise<TokenCounter> {
  exact ??= loadLlama3().then(
    (llama3) => counterOf((text) => countInPieces(text, (piece) => llama3.count(piece))),
    (error) => {
      exact = undefined; // a failed load is retried by the next caller
      throw error;
    },
  );
  return exact;
}

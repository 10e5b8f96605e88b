/** The one interface every compression method implements, and the shapes it works on. */
import type { ChatMessage } from "../messages.ts";

/** The compression methods, by the names config and `POST /v1/sessions` use. */
export const COMPRESSION_METHODS = [
  "sliding_window",
  "summarize",
  "importance",
  "hierarchical",
  "mask_observations",
] as const;

/** A method's name. */
export type CompressionMethod = typeof COMPRESSION_METHODS[number];

/**
 * One message of a session's context. `origin` says where it came from: an original message of
 * turn `turn` at position `index` in that turn, or a message the compression made (a summary, or
 * an original with its content replaced) standing for the originals of turns `from`..`to`.
 */
export interface ContextMessage {
  /** The message as sent to the model. */
  message: ChatMessage;
  /** Its token count as sent (the Llama 3 tokenizer's, with the chat template's per-message overhead). */
  tokens: number;
  /** Where it came from. */
  origin:
    | { kind: "original"; turn: number; index: number }
    | { kind: "summary"; from: number; to: number; level: number }
    | { kind: "masked"; turn: number; index: number };
}

/** A summary a method made earlier, kept in the session so it is not made twice. */
export interface SummarySegment {
  /** The first and last turn it covers. */
  from: number;
  to: number;
  /** 1 for a summary of turns, 2 for a summary of summaries, and so on. */
  level: number;
  /** The summary text. */
  text: string;
  /** Its token count. */
  tokens: number;
}

/** Asks a model (through the gateway) to summarise `messages` in at most `maxTokens` tokens. */
export type Summarizer = (
  messages: ChatMessage[],
  options: { maxTokens: number },
) => Promise<string>;

/** What a method is given. */
export interface CompressionInput {
  /** The system prompt's messages: always kept, first, unchanged. */
  system: ContextMessage[];
  /** The context after the system prompt, oldest first: what the last compaction left plus the turns since. */
  context: ContextMessage[];
  /** The tokens the compacted prompt (system included) should fit in: the low mark. */
  targetTokens: number;
  /** The number of newest turns that are always kept verbatim when they fit. @default 2 */
  keepRecentTurns: number;
  /** Counts the tokens of a message as sent (template overhead included). */
  countMessage(message: ChatMessage): number;
  /** Summaries made earlier, for methods that reuse them. */
  summaries: SummarySegment[];
  /** Makes summaries; absent where no model can be asked (methods needing it then fall back to dropping). */
  summarize?: Summarizer;
}

/** What a method returns. */
export interface CompressionResult {
  /** The new context after the system prompt, oldest first. */
  context: ContextMessage[];
  /** Its token count plus the system prompt's. */
  tokens: number;
  /** The summaries to keep in the session (the input's that are still used, and new ones). */
  summaries: SummarySegment[];
  /** What it did, one line each, for the session's history (e.g. "dropped turns 1-12"). */
  actions: string[];
}

/** A compression method: a pure function of its input, save for the summarizer it may call. */
export interface Compressor {
  /** Its name. */
  readonly name: CompressionMethod;
  /** Compacts `input.context` toward `input.targetTokens`, keeping every tool call with its result. */
  compress(input: CompressionInput): Promise<CompressionResult>;
}

/** A session's compression settings. */
export interface CompressionPolicy {
  /** The method, or "none" (overflow is then a 400 `context_length_exceeded`). */
  method: CompressionMethod | "none";
  /** The prompt budget in tokens (the model's context unless a session sets less). */
  budgetTokens: number;
  /** Compact when a prompt would pass this fraction of the budget. @default 0.8 */
  threshold: number;
  /** Compact down to this fraction of the budget. @default 0.5 */
  target: number;
  /** Newest turns always kept verbatim. @default 2 */
  keepRecentTurns: number;
}

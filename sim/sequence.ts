/** A sequence as the engine sees it: the request, its callbacks, its result, and its progress. */
import type { FinishReason } from "./engine_metrics.ts";
import type { BlockHold } from "./kv_cache.ts";

/** One generation request as the engine sees it. */
export interface SequenceRequest {
  /** Unique id. */
  id: string;
  /** Prompt length in tokens. */
  promptTokens: number;
  /**
   * Chained hashes of the sequence's full 512-token blocks, in order: the prompt's, then those its
   * output will fill. A block enters the prefix cache once its tokens are computed, so the output's
   * blocks serve the next turn of a conversation, as in vLLM.
   */
  blockHashes: readonly number[];
  /** Tokens to generate; 0 computes the prompt only (embeddings). */
  maxTokens: number;
  /** vLLM's `priority`: under the priority policy lower values are scheduled first. @default 0 */
  priority?: number;
  /** Reason reported when `maxTokens` is reached: "stop" models an end-of-sequence token. @default "length" */
  endReason?: "length" | "stop";
}

/** What the engine reports when a sequence ends. */
export interface SequenceResult {
  /** Why it ended. */
  reason: FinishReason;
  /** Prompt tokens. */
  promptTokens: number;
  /** Prompt tokens served from the prefix cache (GPU and host tier) at its first admission. */
  cachedTokens: number;
  /** Tokens generated. */
  outputTokens: number;
  /** Simulated ms when it arrived. */
  arrivalMs: number;
  /** Simulated ms of its first token, if any. */
  firstTokenMs: number | undefined;
  /** Simulated ms when it ended. */
  finishMs: number;
}

/** Callbacks of one sequence; they run inside the engine's step, so keep them short. */
export interface SequenceEvents {
  /**
   * The sequence was first admitted, with `cachedTokens` of its prompt found in the prefix cache
   * (on the GPU or in the host tier).
   */
  onAdmitted?(cachedTokens: number): void;
  /** A token was generated (`index` counts from 0) at simulated time `atMs`. */
  onToken?(index: number, atMs: number): void;
  /** The sequence ended (never called for an abort requested by the caller). */
  onFinish?(result: SequenceResult): void;
}

/** A sequence's progress inside the engine. */
export interface Sequence {
  /** What was asked. */
  request: SequenceRequest;
  /** Whom to tell. */
  events: SequenceEvents;
  /** Where it is: "loading" holds its blocks while its KV comes over from the host tier. */
  state: "waiting" | "loading" | "running" | "done";
  /** Simulated ms when it arrived. */
  arrivalMs: number;
  /** Its KV blocks while running. */
  hold: BlockHold | undefined;
  /** Tokens whose KV is computed. */
  computed: number;
  /** Tokens to compute before it decodes: the prompt, plus the output after a preemption. */
  prefillTarget: number;
  /** Tokens generated. */
  generated: number;
  /** Prompt tokens found in the prefix cache (GPU and host tier) at its first admission. */
  cachedTokens: number;
  /** Whether it was ever admitted (a preempted sequence is re-admitted). */
  admitted: boolean;
  /** Simulated ms of its first token. */
  firstTokenMs: number | undefined;
  /** Simulated ms of its latest token. */
  lastTokenMs: number;
}

/** A sequence that has just arrived at `arrivalMs`. */
export function newSequence(
  request: SequenceRequest,
  events: SequenceEvents,
  arrivalMs: number,
): Sequence {
  return {
    request,
    events,
    state: "waiting",
    arrivalMs,
    hold: undefined,
    computed: 0,
    prefillTarget: request.promptTokens,
    generated: 0,
    cachedTokens: 0,
    admitted: false,
    firstTokenMs: undefined,
    lastTokenMs: 0,
  };
}

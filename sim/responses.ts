/** vLLM's response shapes: errors, usage, chat and completion bodies and stream chunks. */

/** The kind of generation endpoint. */
export type GenerationKind = "chat" | "completion";

/** Token counts of one request. */
export interface UsageCounts {
  /** Prompt tokens. */
  promptTokens: number;
  /** Prompt tokens served from the prefix cache. */
  cachedTokens: number;
  /** Generated tokens. */
  completionTokens: number;
}

/** An OpenAI-style error body as vLLM sends it. */
export function errorBody(status: number, message: string): Record<string, unknown> {
  const type = status === 400
    ? "BadRequestError"
    : status === 404
    ? "NotFoundError"
    : status === 503
    ? "ServiceUnavailableError"
    : "InternalServerError";
  return { error: { message, type, param: null, code: status } };
}

/** An error response with vLLM's body. */
export function errorResponse(status: number, message: string): Response {
  return Response.json(errorBody(status, message), { status });
}

/** The `usage` object, with `prompt_tokens_details.cached_tokens`. */
export function usageBody(u: UsageCounts): Record<string, unknown> {
  return {
    prompt_tokens: u.promptTokens,
    total_tokens: u.promptTokens + u.completionTokens,
    completion_tokens: u.completionTokens,
    prompt_tokens_details: { cached_tokens: u.cachedTokens },
  };
}

/** Fields shared by every body and chunk of one response. */
export interface ResponseHead {
  /** `chatcmpl-...` or `cmpl-...`. */
  id: string;
  /** Unix seconds. */
  created: number;
  /** The served model name. */
  model: string;
}

/** A full (non-streaming) response body; a chat turn's `toolCalls`, if any, replace its text. */
export function completeBody(
  kind: GenerationKind,
  head: ResponseHead,
  text: string,
  finishReason: string,
  usage: UsageCounts,
  toolCalls?: readonly unknown[],
): Record<string, unknown> {
  // A turn that calls tools has no text, even cut off before its first call reached the client.
  const message = toolCalls
    ? { role: "assistant", content: null, reasoning_content: null, tool_calls: toolCalls }
    : { role: "assistant", content: text, reasoning_content: null, tool_calls: [] };
  const choice = kind === "chat"
    ? {
      index: 0,
      message,
      logprobs: null,
      finish_reason: finishReason,
      stop_reason: null,
    }
    : {
      index: 0,
      text,
      logprobs: null,
      finish_reason: finishReason,
      stop_reason: null,
      prompt_logprobs: null,
    };
  return {
    id: head.id,
    object: kind === "chat" ? "chat.completion" : "text_completion",
    created: head.created,
    model: head.model,
    choices: [choice],
    usage: usageBody(usage),
    prompt_logprobs: null,
  };
}

/** Options of {@linkcode chunkBody}. */
export interface ChunkOptions {
  /** A chat's first chunk: the delta carries the role. */
  role?: boolean;
  /** The chunk has `usage: null` (a stream with `include_usage`). */
  withUsageField?: boolean;
  /** A chat delta other than text (tool calls); `text` is then unused. */
  delta?: Record<string, unknown>;
}

/** One SSE chunk carrying `text` (and the role on a chat's first chunk), or another delta. */
export function chunkBody(
  kind: GenerationKind,
  head: ResponseHead,
  text: string,
  finishReason: string | null,
  options: ChunkOptions = {},
): Record<string, unknown> {
  const choice = kind === "chat"
    ? {
      index: 0,
      delta: options.delta ??
        (options.role ? { role: "assistant", content: text } : { content: text }),
      logprobs: null,
      finish_reason: finishReason,
      ...(finishReason ? { stop_reason: null } : {}),
    }
    : { index: 0, text, logprobs: null, finish_reason: finishReason, stop_reason: null };
  const chunk: Record<string, unknown> = {
    id: head.id,
    object: kind === "chat" ? "chat.completion.chunk" : "text_completion",
    created: head.created,
    model: head.model,
    choices: [choice],
  };
  if (options.withUsageField) chunk.usage = null;
  return chunk;
}

/** The final usage-only chunk of a stream with `include_usage`. */
export function usageChunk(
  kind: GenerationKind,
  head: ResponseHead,
  usage: UsageCounts,
): Record<string, unknown> {
  return {
    id: head.id,
    object: kind === "chat" ? "chat.completion.chunk" : "text_completion",
    created: head.created,
    model: head.model,
    choices: [],
    usage: usageBody(usage),
  };
}

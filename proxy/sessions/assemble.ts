/** Rebuilds the assistant's reply from chat.completion.chunk events: its text, tool calls, finish reason and usage. */
import type { AssistantMessage, ToolCall } from "../../actors/session/mod.ts";

interface PartialCall {
  id: string;
  name: string;
  arguments: string;
}

/** Token counts from the final usage chunk. */
export interface AssembledUsage {
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
}

/** Collects the chunks of one streamed choice 0. */
export class ChunkAssembler {
  /** The completion's id, model and created time from the first chunk. */
  id = "";
  model = "";
  created = 0;
  /** The reason the stream gave, once it gave one. */
  finishReason: string | null = null;
  /** The usage chunk's counts, zeros until it comes. */
  usage: AssembledUsage = { prompt_tokens: 0, completion_tokens: 0, cached_tokens: 0 };
  /** Whether an error event came in the stream. */
  error: string | undefined;
  /** Chunks of choice 0 that wrote text or tool calls: about one a token, as vLLM streams. */
  deltas = 0;
  #text = "";
  #sawText = false;
  #calls: PartialCall[] = [];

  /** Takes one event's parsed JSON. */
  push(event: unknown): void {
    if (!isRecord(event)) return;
    if (isRecord(event.error)) {
      this.error = String(event.error.message ?? "the backend failed while streaming");
      return;
    }
    if (typeof event.id === "string" && this.id === "") this.id = event.id;
    if (typeof event.model === "string" && this.model === "") this.model = event.model;
    if (typeof event.created === "number" && this.created === 0) this.created = event.created;
    if (isRecord(event.usage)) this.#takeUsage(event.usage);
    const choices = Array.isArray(event.choices) ? event.choices : [];
    for (const choice of choices) {
      if (!isRecord(choice) || (choice.index ?? 0) !== 0) continue;
      if (typeof choice.finish_reason === "string") this.finishReason = choice.finish_reason;
      const delta = isRecord(choice.delta)
        ? choice.delta
        : isRecord(choice.message)
        ? choice.message
        : undefined;
      if (!delta) continue;
      if (delta.content || (Array.isArray(delta.tool_calls) && delta.tool_calls.length > 0)) {
        this.deltas++;
      }
      if (typeof delta.content === "string") {
        this.#text += delta.content;
        this.#sawText ||= delta.content.length > 0;
      }
      if (Array.isArray(delta.tool_calls)) {
        delta.tool_calls.forEach((call, i) => this.#takeCall(call, i));
      }
    }
  }

  /** The reply so far; tool calls are kept only when `complete` (a cut-off call's arguments are not JSON). */
  message(complete: boolean): AssistantMessage | null {
    const calls: ToolCall[] = complete
      ? this.#calls.filter((c) => c.id !== "").map((c) => ({
        id: c.id,
        type: "function" as const,
        function: { name: c.name, arguments: c.arguments },
      }))
      : [];
    if (!this.#sawText && calls.length === 0) {
      return complete ? { role: "assistant", content: "" } : null;
    }
    const message: AssistantMessage = {
      role: "assistant",
      content: this.#sawText || calls.length === 0 ? this.#text : null,
    };
    if (calls.length > 0) message.tool_calls = calls;
    return message;
  }

  /** The whole answer as a non-streamed `chat.completion`. */
  completion(finishReason?: string): Record<string, unknown> {
    const complete = finishReason === undefined;
    const message = this.message(complete) ?? { role: "assistant", content: "" };
    return {
      id: this.id,
      object: "chat.completion",
      created: this.created,
      model: this.model,
      choices: [{
        index: 0,
        message: { ...message, content: message.content ?? null },
        logprobs: null,
        finish_reason: finishReason ?? this.finishReason,
      }],
      usage: {
        prompt_tokens: this.usage.prompt_tokens,
        completion_tokens: this.usage.completion_tokens,
        total_tokens: this.usage.prompt_tokens + this.usage.completion_tokens,
        prompt_tokens_details: { cached_tokens: this.usage.cached_tokens },
      },
    };
  }

  #takeUsage(usage: Record<string, unknown>): void {
    const details = isRecord(usage.prompt_tokens_details) ? usage.prompt_tokens_details : {};
    this.usage = {
      prompt_tokens: count(usage.prompt_tokens),
      completion_tokens: count(usage.completion_tokens),
      cached_tokens: count(details.cached_tokens),
    };
  }

  #takeCall(raw: unknown, position: number): void {
    if (!isRecord(raw)) return;
    const index = typeof raw.index === "number" ? raw.index : position;
    const call = this.#calls[index] ??= { id: "", name: "", arguments: "" };
    if (typeof raw.id === "string" && raw.id !== "") call.id = raw.id;
    const fn = isRecord(raw.function) ? raw.function : undefined;
    if (typeof fn?.name === "string" && call.name === "") call.name = fn.name;
    if (typeof fn?.arguments === "string") call.arguments += fn.arguments;
  }
}

function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? Math.floor(value) : 0;
}

/** Whether `value` is a JSON object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

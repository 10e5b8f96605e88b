/** Watches relayed response bytes for OpenAI `usage` and counts stream events, without holding any bytes back. */
import { createParser, type EventSourceParser } from "eventsource-parser";

const PROMPT = /"prompt_tokens"\s*:\s*(\d+)/;
const COMPLETION = /"completion_tokens"\s*:\s*(\d+)/;
/** `usage.prompt_tokens_details.cached_tokens` (vLLM with `--enable-prompt-tokens-details`; null or absent without). */
const CACHED = /"cached_tokens"\s*:\s*(\d+)/;
/** A chunk that carries generated text (chat `content` or completions `text`), not just a role or a finish reason. */
const GENERATED = /"(?:content|text)"\s*:\s*"[^"]/;
const TAIL_CHARS = 512;
// Latin-1 maps each byte to one character and keeps no state between chunks: the patterns sought
// in a JSON body are ASCII, so multi-byte text elsewhere cannot hide or fake them.
const latin1 = new TextDecoder("latin1");

/** Token counts found in a response. */
export interface TappedUsage {
  promptTokens: number | undefined;
  completionTokens: number | undefined;
  /** Prompt tokens the replica found in its prefix cache, when its `usage` says. */
  cachedTokens?: number;
  /** `reported` when the replica sent `usage`, `counted` when only the stream's text chunks were counted. */
  source: "reported" | "counted" | "none";
}

/**
 * Scans chunks of a JSON or SSE response as they pass; the last `usage` seen wins. An SSE stream
 * goes through `eventsource-parser`, so an event split anywhere across chunks counts once; a JSON
 * body keeps a short tail between chunks so a `usage` object split across two is still found.
 */
export class UsageTap {
  #tail = "";
  #events = 0;
  #prompt: number | undefined;
  #completion: number | undefined;
  #cached: number | undefined;
  #done = false;
  #sse: { parser: EventSourceParser; decoder: TextDecoder } | undefined;

  /** @param stream whether the response is an SSE stream (events are counted) */
  constructor(stream: boolean) {
    if (!stream) return;
    const parser = createParser({
      onEvent: ({ data }) => {
        if (data.trim() === "[DONE]") {
          this.#done = true;
          return;
        }
        if (GENERATED.test(data)) this.#events++;
        this.#read(data);
      },
    });
    this.#sse = { parser, decoder: new TextDecoder() };
  }

  /** Looks at one chunk. */
  push(chunk: Uint8Array): void {
    if (this.#sse) {
      this.#sse.parser.feed(this.#sse.decoder.decode(chunk, { stream: true }));
      return;
    }
    const window = this.#tail + latin1.decode(chunk);
    this.#read(window);
    this.#tail = window.length > TAIL_CHARS ? window.slice(-TAIL_CHARS) : window;
  }

  /** Whether an SSE stream's `data: [DONE]` has been seen (an event left open counts after {@linkcode result}). */
  get done(): boolean {
    return this.#done;
  }

  /** Takes the counts of the last `usage` object in `text`, if it has one. */
  #read(text: string): void {
    const at = text.lastIndexOf('"usage"');
    if (at < 0) return;
    const rest = text.slice(at);
    const prompt = PROMPT.exec(rest);
    const completion = COMPLETION.exec(rest);
    if (prompt?.[1] !== undefined) this.#prompt = Number(prompt[1]);
    if (completion?.[1] !== undefined) this.#completion = Number(completion[1]);
    const cached = CACHED.exec(rest);
    if (cached?.[1] !== undefined) this.#cached = Number(cached[1]);
  }

  /** What was found so far; a last event the stream left without its blank line counts too. */
  result(): TappedUsage {
    // Blank lines end an event the stream left open and are nothing after a complete one.
    this.#sse?.parser.feed("\n\n");
    if (this.#prompt !== undefined || this.#completion !== undefined) {
      const reported: TappedUsage = {
        promptTokens: this.#prompt,
        completionTokens: this.#completion,
        source: "reported",
      };
      if (this.#cached !== undefined) reported.cachedTokens = this.#cached;
      return reported;
    }
    if (this.#sse && this.#events > 0) {
      return { promptTokens: undefined, completionTokens: this.#events, source: "counted" };
    }
    return { promptTokens: undefined, completionTokens: undefined, source: "none" };
  }
}

/** Watches relayed response bytes for OpenAI `usage` and counts stream events, without holding any bytes back. */

const PROMPT = /"prompt_tokens"\s*:\s*(\d+)/;
const COMPLETION = /"completion_tokens"\s*:\s*(\d+)/;
const TAIL_CHARS = 512;
// Latin-1 maps each byte to one character and keeps no state between chunks: the patterns sought
// are ASCII, so multi-byte text elsewhere cannot hide or fake them, and one decoder serves all.
const latin1 = new TextDecoder("latin1");

/** Token counts found in a response. */
export interface TappedUsage {
  promptTokens: number | undefined;
  completionTokens: number | undefined;
  /** `reported` when the replica sent `usage`, `counted` when only stream events were counted. */
  source: "reported" | "counted" | "none";
}

/**
 * Scans chunks of a JSON or SSE response as they pass. It keeps a short tail between chunks so a
 * `usage` object split across two chunks is still found; the last one seen wins.
 */
export class UsageTap {
  #tail = "";
  #events = 0;
  #prompt: number | undefined;
  #completion: number | undefined;
  #stream: boolean;

  /** @param stream whether the response is an SSE stream (events are counted) */
  constructor(stream: boolean) {
    this.#stream = stream;
  }

  /** Looks at one chunk. */
  push(chunk: Uint8Array): void {
    const text = latin1.decode(chunk);
    const window = this.#tail + text;
    if (this.#stream) this.#events += countEvents(text);
    const at = window.lastIndexOf('"usage"');
    if (at >= 0) {
      const rest = window.slice(at);
      const prompt = PROMPT.exec(rest);
      const completion = COMPLETION.exec(rest);
      if (prompt?.[1] !== undefined) this.#prompt = Number(prompt[1]);
      if (completion?.[1] !== undefined) this.#completion = Number(completion[1]);
    }
    this.#tail = window.length > TAIL_CHARS ? window.slice(-TAIL_CHARS) : window;
  }

  /** What was found so far. */
  result(): TappedUsage {
    if (this.#prompt !== undefined || this.#completion !== undefined) {
      return { promptTokens: this.#prompt, completionTokens: this.#completion, source: "reported" };
    }
    if (this.#stream && this.#events > 0) {
      return { promptTokens: undefined, completionTokens: this.#events, source: "counted" };
    }
    return { promptTokens: undefined, completionTokens: undefined, source: "none" };
  }
}

/** Counts `data:` events other than `[DONE]` that start in `text`. */
function countEvents(text: string): number {
  let count = 0;
  let at = text.indexOf("data:");
  while (at >= 0) {
    if (at === 0 || text.charCodeAt(at - 1) === 10) {
      const body = text.slice(at + 5, at + 13).trimStart();
      if (!body.startsWith("[DONE]")) count++;
    }
    at = text.indexOf("data:", at + 5);
  }
  return count;
}

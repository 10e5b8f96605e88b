/**
 * The replay's two load generators for one streamed chat completion: the official `openai` client,
 * or a lean one on `fetch` that finds the SSE events' boundaries itself and parses only the
 * `usage` event's JSON. The replay shares this 2-core machine with the gateway and the replicas,
 * and the `openai` client's work on every event (its decoder, one JSON.parse an event, its async
 * iterators) took about a quarter of it on the mixed trace, time the gateway and the replicas then
 * waited for a core; both clients time the same moments (the first and every later chunk that
 * carries content).
 */
import OpenAI from "openai";

/** Which load generator the replay runs. */
export type ReplayClient = "lean" | "openai";

/** Token counts of a stream's `usage` event. */
export interface StreamedUsage {
  promptTokens: number;
  completionTokens: number;
  cachedTokens?: number | undefined;
}

/** What one streamed request reported. */
export interface StreamedAnswer {
  /** `usage` of the last event that carried it. */
  usage?: StreamedUsage;
}

/** The counts of an OpenAI `usage` object, as either client read it. */
function usageOf(usage: {
  prompt_tokens: number;
  completion_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number | undefined } | null | undefined;
}): StreamedUsage {
  return {
    promptTokens: usage.prompt_tokens,
    completionTokens: usage.completion_tokens,
    cachedTokens: usage.prompt_tokens_details?.cached_tokens,
  };
}

/** One streamed chat completion to send. */
export interface StreamRequest {
  model: string;
  content: string;
  maxTokens: number;
  headers: Record<string, string>;
}

/**
 * Sends one streamed chat completion; `onHeaders` is called with the response's headers as they
 * come (also of a stream that fails later), `onContent` as each chunk with content arrives.
 */
export type StreamChat = (
  request: StreamRequest,
  onContent: (now: number) => void,
  onHeaders?: (headers: Headers) => void,
) => Promise<StreamedAnswer>;

/** A load generator on `baseUrl` (the gateway's or a replica's root URL). */
export function streamClient(kind: ReplayClient, baseUrl: string, timeoutMs: number): StreamChat {
  return kind === "openai" ? openaiClient(baseUrl, timeoutMs) : leanClient(baseUrl, timeoutMs);
}

function body(request: StreamRequest) {
  return {
    model: request.model,
    messages: [{ role: "user" as const, content: request.content }],
    max_tokens: request.maxTokens,
    stream: true as const,
    stream_options: { include_usage: true },
  };
}

function openaiClient(baseUrl: string, timeoutMs: number): StreamChat {
  const client = new OpenAI({
    baseURL: `${baseUrl}/v1`,
    apiKey: "turnpike-bench",
    maxRetries: 0,
    timeout: timeoutMs,
  });
  return async (request, onContent, onHeaders) => {
    const { data: stream, response } = await client.chat.completions.create(body(request), {
      headers: request.headers,
    }).withResponse();
    onHeaders?.(response.headers);
    const answer: StreamedAnswer = {};
    for await (const chunk of stream) {
      if (chunk.usage) answer.usage = usageOf(chunk.usage);
      if (chunk.choices[0]?.delta?.content) onContent(performance.now());
    }
    return answer;
  };
}

/** A chunk whose delta has generated text: `"content":"` and a character that does not end it. */
const CONTENT = /"content":"[^"]/;
const USAGE = '"usage":{';

function leanClient(baseUrl: string, timeoutMs: number): StreamChat {
  const url = `${baseUrl}/v1/chat/completions`;
  return async (request, onContent, onHeaders) => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...request.headers },
      body: JSON.stringify(body(request)),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!response.ok || response.body === null) {
      throw new Error(`${response.status} ${await response.text()}`);
    }
    onHeaders?.(response.headers);
    const answer: StreamedAnswer = {};
    const decoder = new TextDecoder();
    let pending = "";
    let done = false;
    for await (const bytes of response.body) {
      const now = performance.now();
      pending += decoder.decode(bytes, { stream: true });
      let start = 0;
      for (let end = pending.indexOf("\n\n"); end >= 0; end = pending.indexOf("\n\n", start)) {
        const event = pending.slice(start, end);
        start = end + 2;
        if (!event.startsWith("data: ")) continue;
        if (event === "data: [DONE]") {
          done = true;
        } else if (event.startsWith('data: {"error"')) {
          throw new Error(JSON.parse(event.slice(6)).error?.message ?? event);
        } else {
          if (event.includes(USAGE)) answer.usage = usageOf(JSON.parse(event.slice(6)).usage);
          if (CONTENT.test(event)) onContent(now);
        }
      }
      pending = pending.slice(start);
    }
    if (!done) throw new Error("The stream ended before data: [DONE]");
    return answer;
  };
}

/** Test fixtures of the Responses translation: vLLM-shaped completions and a one-route server for the SDK. */
import OpenAI from "openai";
import { type ResponseCreateBody, ResponseCreateBodySchema } from "./schemas.ts";

/** The model every fixture names. */
export const MODEL = "llama-3.1-8b-sim";

/** A parsed request body with `fields` over a plain one. */
export function request(fields: Record<string, unknown> = {}): ResponseCreateBody {
  return ResponseCreateBodySchema.parse({ model: MODEL, input: "Hi", ...fields });
}

/** A weather tool, strict so the SDK parses its arguments. */
export const WEATHER_TOOL = {
  type: "function",
  name: "get_weather",
  description: "Weather for a city",
  parameters: {
    type: "object",
    properties: { city: { type: "string" } },
    required: ["city"],
    additionalProperties: false,
  },
  strict: true,
} as const;

/** A `chat.completion` as vLLM answers it: optional text, optional tool calls. */
export function completion(
  content: string | null,
  toolCalls: { id: string; name: string; arguments: string }[] = [],
  finishReason = toolCalls.length > 0 ? "tool_calls" : "stop",
): Record<string, unknown> {
  const message: Record<string, unknown> = { role: "assistant", content, reasoning_content: null };
  message.tool_calls = toolCalls.map((c) => ({
    id: c.id,
    type: "function",
    function: { name: c.name, arguments: c.arguments },
  }));
  return {
    id: "chatcmpl-1",
    object: "chat.completion",
    created: 1_700_000_000,
    model: MODEL,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason }],
    usage: {
      prompt_tokens: 20,
      completion_tokens: 7,
      total_tokens: 27,
      prompt_tokens_details: { cached_tokens: 16 },
    },
  };
}

/**
 * The chunks vLLM streams for "Let me check." then two calls to `get_weather`, split the way its
 * tool parsers split them, then the usage chunk.
 */
export function toolChunks(): Record<string, unknown>[] {
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
    id: "chatcmpl-1",
    object: "chat.completion.chunk",
    created: 1_700_000_000,
    model: MODEL,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });
  const call = (index: number, fields: Record<string, unknown>) => ({
    tool_calls: [{ index, ...fields }],
  });
  return [
    chunk({ role: "assistant", content: "" }),
    chunk({ content: "Let me " }),
    chunk({ content: "check." }),
    chunk(call(0, { id: "call_a", type: "function", function: { name: "get_weather" } })),
    chunk(call(0, { function: { arguments: '{"city": ' } })),
    chunk(call(0, { function: { arguments: '"Paris"}' } })),
    chunk(call(1, { id: "call_b", type: "function", function: { name: "get_weather" } })),
    chunk(call(1, { function: { arguments: '{"city": "Oslo"}' } })),
    chunk({ content: "" }, "tool_calls"),
    {
      id: "chatcmpl-1",
      object: "chat.completion.chunk",
      created: 1_700_000_000,
      model: MODEL,
      choices: [],
      usage: { prompt_tokens: 20, completion_tokens: 30, total_tokens: 50 },
    },
  ];
}

/**
 * Serves `answer` for `POST /v1/responses` on 127.0.0.1, runs `body` with an official OpenAI
 * client pointed at it, and shuts the server down however `body` ends.
 */
export async function withResponsesServer(
  answer: (body: ResponseCreateBody) => Response,
  body: (client: OpenAI) => Promise<void>,
): Promise<void> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    if (req.method !== "POST" || url.pathname !== "/v1/responses") {
      return new Response("not found", { status: 404 });
    }
    return answer(ResponseCreateBodySchema.parse(await req.json()));
  });
  try {
    const baseURL = `http://127.0.0.1:${server.addr.port}/v1`;
    await body(new OpenAI({ baseURL, apiKey: "x", maxRetries: 0, timeout: 10_000 }));
  } finally {
    await server.shutdown();
  }
}

/** Test fixtures of the Responses translation: vLLM-shaped completions and a one-route server for the SDK. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import OpenAI from "openai";
import { parseResponseId } from "./ids.ts";
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

/** The fields of every OpenAI error. */
const ERROR_FIELDS = ["code", "message", "param", "type"];

/** An OpenAI error as the wire carries it inside `{"error": ...}`. */
export interface WireError {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

function checkError(error: unknown, code: string): WireError {
  assert(typeof error === "object" && error !== null, `no error object: ${error}`);
  assertEquals(Object.keys(error).sort(), ERROR_FIELDS);
  const wire = error as WireError;
  assertEquals(wire.code, code, wire.message);
  assert(typeof wire.message === "string" && wire.message.length > 0);
  return wire;
}

/** Awaits `call`, which must fail through the SDK with a `status` OpenAI error of `code`. */
export async function apiError(
  call: Promise<unknown>,
  status: number,
  code: string,
): Promise<WireError> {
  try {
    await call;
  } catch (error) {
    assert(error instanceof OpenAI.APIError, `not an API error: ${error}`);
    assertEquals(error.status, status, error.message);
    return checkError(error.error, code);
  }
  throw new Error(`The call succeeded; a ${status} ${code} was expected`);
}

/** Checks that `response` is exactly `{"error": {message, type, param, code}}` with `status`. */
export async function errorBody(
  response: Response,
  status: number,
  code: string,
): Promise<WireError> {
  const body = await response.json();
  assertEquals(response.status, status, JSON.stringify(body));
  assertEquals(Object.keys(body), ["error"]);
  return checkError(body.error, code);
}

/** A JSON request to the gateway at `url`. */
export async function send(
  url: string,
  method: string,
  body?: unknown,
): Promise<Response> {
  const init: RequestInit = { method, headers: { "content-type": "application/json" } };
  if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body);
  return await fetch(url, init);
}

/** The session a Response id names. */
export function sessionOf(responseId: string): string {
  const ref = parseResponseId(responseId);
  assert(ref, `not a Response id: ${responseId}`);
  return ref.sessionId;
}

/** One turn of `GET /v1/sessions/:id/history?include=sent`. */
export interface HistoryTurn {
  turn: number;
  input: Record<string, unknown>[];
  output: Record<string, unknown>[];
  backend: string | null;
  sent: { prompt: { role: string; content: unknown; tool_calls?: unknown }[] };
}

/** Every turn of session `id` on the gateway at `url`, with the prompts they sent. */
export async function history(url: string, id: string): Promise<HistoryTurn[]> {
  const response = await fetch(`${url}/v1/sessions/${id}/history?include=sent&limit=100`);
  assertEquals(response.status, 200);
  return (await response.json()).data;
}

/** The ids of every session on the gateway at `url`. */
export async function sessionIds(url: string): Promise<string[]> {
  const response = await fetch(`${url}/v1/sessions?limit=100`);
  assertEquals(response.status, 200);
  return (await response.json()).data.map((s: { id: string }) => s.id);
}

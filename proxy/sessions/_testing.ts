/** Helpers of the session API's tests: a session's client, its history, its socket, tool results. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import OpenAI from "openai";
import { MODEL, type TestRig } from "../../gateway/testing.ts";
import { renderChat } from "../../sim/chat_template.ts";
import { approxTokenizer, type PromptTokenizer } from "../../sim/tokens.ts";

/** A chat message as the tests send and read them. */
export interface Message {
  role: string;
  content?: unknown;
  tool_calls?: { id: string; type: string; function: { name: string; arguments: string } }[];
  tool_call_id?: string;
}

/** One turn as `GET /v1/sessions/:id/history?include=sent` shows it. */
export interface TurnView {
  turn: number;
  status: string;
  input: Message[];
  output: Message[];
  finish_reason: string | null;
  usage: { prompt_tokens: number; completion_tokens: number; cached_tokens: number };
  sent: {
    compaction: number;
    base_turn: number;
    messages: number;
    prompt_tokens: number;
    prompt?: Message[];
  };
}

/** A compaction as the history shows it. */
export interface CompactionView {
  compaction: number;
  method: string;
  before_turn: number;
  tokens_before: number;
  tokens_after: number;
  actions: string[];
}

/** Two tools the agent loops offer. */
export const TOOLS = [
  {
    type: "function" as const,
    function: {
      name: "read_file",
      description: "Read a file",
      parameters: {
        type: "object",
        properties: { path: { type: "string" } },
        required: ["path"],
      },
    },
  },
  {
    type: "function" as const,
    function: {
      name: "run_tests",
      description: "Run the test suite",
      parameters: {
        type: "object",
        properties: { target: { type: "string" }, verbose: { type: "boolean" } },
        required: ["target", "verbose"],
      },
    },
  },
];

/** A request to the gateway with a JSON body (or none). */
export async function call(
  rig: TestRig,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return await fetch(`${rig.gateway.url}${path}`, {
    method,
    headers: { "content-type": "application/json", ...headers },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
}

/** Creates a session (the model and a system prompt unless `body` says otherwise); its id. */
export async function createSession(
  rig: TestRig,
  body: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<string> {
  const created = await call(
    rig,
    "POST",
    "/v1/sessions",
    { model: MODEL, system: "You are a coding agent.", ...body },
    headers,
  );
  const json = await created.json();
  assertEquals(created.status, 201, JSON.stringify(json));
  return json.id;
}

/** A session as `GET /v1/sessions/:id` answers it (the fields the tests read). */
export interface SessionView {
  id: string;
  turns: number;
  turn_in_flight: number | null;
  open_tool_calls: string[];
  limits: {
    max_tokens: number | null;
    max_tool_calls_per_minute: number | null;
    max_duration_seconds: number | null;
  };
  usage: {
    turns: number;
    prompt_tokens: number;
    completion_tokens: number;
    tool_calls: number;
    compactions: number;
    total_tokens: number;
    tokens_remaining: number | null;
    tool_calls_last_minute: number;
    duration_seconds: number;
  };
}

/** The session as `GET /v1/sessions/:id` answers it. */
export async function getSession(rig: TestRig, id: string): Promise<SessionView> {
  const res = await call(rig, "GET", `/v1/sessions/${id}`);
  const json = await res.json();
  assertEquals(res.status, 200, JSON.stringify(json));
  return json;
}

/** An openai client whose turns go to session `id`. */
export function sessionClient(rig: TestRig, id: string): OpenAI {
  return new OpenAI({
    baseURL: `${rig.gateway.url}/v1/sessions/${id}`,
    apiKey: "test",
    maxRetries: 0,
    timeout: 30_000,
  });
}

/** Every turn of session `id`, read in pages of `pageSize`, with the prompts they sent; its compactions. */
export async function fullHistory(
  rig: TestRig,
  id: string,
  pageSize = 100,
): Promise<{ turns: TurnView[]; compactions: CompactionView[] }> {
  const turns: TurnView[] = [];
  let compactions: CompactionView[] = [];
  let after = 0;
  for (;;) {
    const res = await call(
      rig,
      "GET",
      `/v1/sessions/${id}/history?limit=${pageSize}&after=${after}&include=sent`,
    );
    const page = await res.json();
    assertEquals(res.status, 200, JSON.stringify(page));
    turns.push(...page.data);
    compactions = page.compactions;
    if (!page.has_more) return { turns, compactions };
    assertEquals(page.next_cursor, String(turns.at(-1)!.turn));
    after = turns.at(-1)!.turn;
  }
}

/** Tool results answering every call of `reply`, with `content` made by `resultOf`. */
export function toolResults(
  reply: Message,
  resultOf: (name: string, i: number) => string = (name) => `${name}: ok`,
): Message[] {
  return (reply.tool_calls ?? []).map((c, i) => ({
    role: "tool",
    tool_call_id: c.id,
    content: resultOf(c.function.name, i),
  }));
}

/**
 * Asserts that in `messages` every assistant tool call is answered by the tool messages right
 * after it, and every tool message answers a call of the assistant message before them.
 */
export function assertToolPairs(messages: Message[], where: string): void {
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    if (m.role === "tool") {
      assert(false, `${where}: message ${i} is a tool result with no call before it`);
    }
    if (m.role !== "assistant" || !m.tool_calls?.length) continue;
    const ids = m.tool_calls.map((c) => c.id);
    const answers = messages.slice(i + 1, i + 1 + ids.length);
    assertEquals(
      answers.map((a) => [a.role, a.tool_call_id]),
      ids.map((id) => ["tool", id]),
      `${where}: the calls of message ${i} are not answered right after it`,
    );
    i += ids.length;
  }
}

/** Asserts an OpenAI-shaped error; its body. */
export async function assertError(
  res: Response,
  status: number,
  code: string,
  param?: string | null,
): Promise<{ message: string; type: string; param: string | null; code: string }> {
  const text = await res.text();
  assertEquals(res.status, status, text);
  assert(res.headers.get("content-type")?.startsWith("application/json"), text);
  const body = JSON.parse(text);
  assertEquals(Object.keys(body), ["error"], text);
  assertEquals(Object.keys(body.error).sort(), ["code", "message", "param", "type"], text);
  assertEquals(body.error.code, code, text);
  assert(typeof body.error.message === "string" && body.error.message.length > 0, text);
  if (param !== undefined) assertEquals(body.error.param, param, text);
  return body.error;
}

/**
 * The prompt tokens a simulated replica (its approximate tokenizer unless told) counts for `messages` and `tools`:
 * a turn's `usage.prompt_tokens` equals it only when the replica was sent exactly that prompt.
 */
export function simPromptTokens(
  messages: Message[],
  tools?: readonly unknown[],
  tokenizer: PromptTokenizer = approxTokenizer,
): number {
  const turns = messages.map((m) => ({
    role: m.role,
    content: typeof m.content === "string" ? m.content : "",
    toolCalls: (m.tool_calls ?? []).map((c) => c.function),
  }));
  return tokenizer.tokenize(renderChat(turns, tools?.length ? { tools } : {})).tokens;
}

/** The simulator's `vllm:num_requests_running`, read from its /metrics. */
export async function simRunning(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("vllm:num_requests_running"));
  assert(line, "the simulator's /metrics has no vllm:num_requests_running");
  return Number(line.split(" ").at(-1));
}

/** A message the gateway sends on a session socket. */
export interface ServerMessage {
  type: string;
  turn?: number | null;
  id?: string;
  chunk?: {
    choices: {
      delta?: { content?: string; tool_calls?: unknown[] };
      finish_reason: string | null;
    }[];
  };
  message?: Message | null;
  finish_reason?: string | null;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  status?: number;
  retry_after?: number;
  error?: { message: string; type: string; param: string | null; code: string | null };
}

/** A test's end of a session socket: what the gateway sent, in order, awaited one by one. */
export class TestSocket {
  readonly ws: WebSocket;
  readonly #inbox: ServerMessage[] = [];
  #wake: (() => void) | undefined;
  readonly closed: Promise<void>;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.onmessage = (event) => {
      this.#inbox.push(JSON.parse(event.data));
      this.#wake?.();
    };
    this.closed = new Promise((resolve) => ws.addEventListener("close", () => resolve()));
  }

  /** Opens the socket of session `sessionId`. */
  static async open(rig: TestRig, sessionId: string): Promise<TestSocket> {
    const ws = new WebSocket(
      `${rig.gateway.url.replace("http", "ws")}/v1/sessions/${sessionId}/ws`,
    );
    const socket = new TestSocket(ws);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error("the socket did not open"));
    });
    return socket;
  }

  /** Sends a frame: a string as is, anything else as JSON. */
  send(message: unknown): void {
    this.ws.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** The next message, waiting up to `timeoutMs`. */
  async next(timeoutMs = 15_000): Promise<ServerMessage> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      while (this.#inbox.length === 0) {
        await new Promise<void>((resolve, reject) => {
          this.#wake = resolve;
          timer = setTimeout(() => reject(new Error("no message came in time")), timeoutMs);
        });
        clearTimeout(timer);
      }
      return this.#inbox.shift()!;
    } finally {
      clearTimeout(timer);
      this.#wake = undefined;
    }
  }

  /** The messages up to and including the first whose type is one of `types`. */
  async until(...types: string[]): Promise<ServerMessage[]> {
    const seen: ServerMessage[] = [];
    for (;;) {
      const message = await this.next();
      seen.push(message);
      if (types.includes(message.type)) return seen;
    }
  }

  /** Closes the socket and waits for it to be closed. */
  async close(): Promise<void> {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.close();
    await this.closed;
  }
}

/** The text the chunks among `messages` carried. */
export function textOf(messages: ServerMessage[]): string {
  return messages.map((m) => m.chunk?.choices[0]?.delta?.content ?? "").join("");
}

/** The messages up to the first chunk with text: the stream is under way. */
export async function firstText(socket: TestSocket): Promise<ServerMessage[]> {
  const seen: ServerMessage[] = [];
  while (textOf(seen) === "") seen.push(await socket.next());
  return seen;
}

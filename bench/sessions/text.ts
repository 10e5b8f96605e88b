/** Text of the sessions benchmark: deterministic messages and tool output, and reading answers back. */

const WORDS = [
  "parser",
  "buffer",
  "commit",
  "socket",
  "router",
  "replica",
  "session",
  "header",
  "stream",
  "token",
  "budget",
  "window",
] as const;

/** Deterministic filler of `chars` characters, different for each `seed`. */
export function filler(seed: number, chars: number): string {
  let text = "";
  let h = (seed * 2654435761) >>> 0;
  while (text.length < chars) {
    h = (Math.imul(h ^ (h >>> 15), 2246822519) + 0x9e3779b9) >>> 0;
    text += `${WORDS[h % WORDS.length]}${h % 97} `;
  }
  return text.slice(0, chars);
}

/** The user message of `client`'s turn `turn`, `chars` characters long. */
export function userText(client: number, turn: number, chars: number): string {
  const head = `Task ${client}.${turn}: `;
  return head + filler(client * 100_003 + turn, Math.max(0, chars - head.length));
}

/** What a tool returns for call `seed`: a file listing or a test log, `chars` characters long. */
export function toolOutput(seed: number, chars: number): string {
  const lines: string[] = [];
  let length = 0;
  for (let i = 0; length < chars; i++) {
    const line = `${String(i + 1).padStart(4)}  ${filler(seed * 7919 + i, 72)}`;
    lines.push(line);
    length += line.length + 1;
  }
  return lines.join("\n").slice(0, chars);
}

/** One tool call of an answer, as OpenAI shapes it. */
export interface AnswerToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

/** The assistant message of an answer, text and tool calls. */
export interface AnswerMessage {
  content: string;
  toolCalls: AnswerToolCall[];
}

interface Delta {
  content?: string | null;
  tool_calls?: {
    index: number;
    id?: string;
    function?: { name?: string; arguments?: string };
  }[];
}

/** The `data:` payloads of an SSE body, `[DONE]` left out. */
export function sseEvents(text: string): string[] {
  const events: string[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("data:")) continue;
    const data = line.slice(5).trim();
    if (data !== "[DONE]" && data !== "") events.push(data);
  }
  return events;
}

/** The assistant message of a chat completion: one JSON body, or an SSE body's deltas joined. */
export function answerMessage(body: string, stream: boolean): AnswerMessage {
  if (!stream) {
    const parsed = JSON.parse(body) as {
      choices: { message: { content: string | null; tool_calls?: AnswerToolCall[] } }[];
    };
    const message = parsed.choices[0]?.message;
    return { content: message?.content ?? "", toolCalls: message?.tool_calls ?? [] };
  }
  let content = "";
  const calls: AnswerToolCall[] = [];
  for (const data of sseEvents(body)) {
    const chunk = JSON.parse(data) as { choices?: { delta?: Delta }[] };
    const delta = chunk.choices?.[0]?.delta;
    if (!delta) continue;
    content += delta.content ?? "";
    for (const part of delta.tool_calls ?? []) {
      const call = calls[part.index] ??= {
        id: "",
        type: "function",
        function: { name: "", arguments: "" },
      };
      call.id += part.id ?? "";
      call.function.name += part.function?.name ?? "";
      call.function.arguments += part.function?.arguments ?? "";
    }
  }
  return { content, toolCalls: calls.filter((c) => c !== undefined) };
}

/** The assistant text of a chat completion body. */
export function chatText(body: string, stream: boolean): string {
  return answerMessage(body, stream).content;
}

/** Llama 3.1's chat template, as vLLM applies it before counting a chat prompt. */

/** A function call of an assistant message: its name and its arguments as a JSON string. */
export interface ToolCallText {
  /** The function's name. */
  name: string;
  /** The arguments, a JSON object as a string. */
  arguments: string;
}

/** One chat message with its text already flattened. */
export interface ChatTurn {
  /** `system`, `user`, `assistant`, `tool`... */
  role: string;
  /** Its text. */
  content: string;
  /** The calls of an assistant message that made some: rendered in place of its text. */
  toolCalls?: readonly ToolCallText[];
}

/** Options of {@linkcode renderChat}. */
export interface RenderChatOptions {
  /** The request's `tools`: listed, as JSON, in the first user message. @default none */
  tools?: readonly unknown[];
}

const LLAMA31_SYSTEM_PREAMBLE =
  "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n";

const LLAMA31_TOOLS_PREAMBLE =
  "Given the following functions, please respond with a JSON for a function call with its proper " +
  "arguments that best answers the given prompt.\n\n" +
  'Respond in the format {"name": function name, "parameters": dictionary of argument name and ' +
  "its value}.Do not use variables.\n\n";

/** Between two calls of one message, as vLLM's llama3_json tool parser reads them. */
export const TOOL_CALL_SEPARATOR = "; ";

/** A JSON value as Python's `json.dumps` writes it (the template's `tojson`): `{"a": [1, 2]}`. */
export function pythonJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${pythonJson(v)}`);
    return `{${entries.join(", ")}}`;
  }
  return JSON.stringify(value);
}

/**
 * A call as the template writes it, in three parts: the text before the arguments, the arguments
 * (re-serialised as `tojson` does; sent text that is not JSON stays as it is) and the text after.
 */
export function toolCallParts(call: ToolCallText): [string, string, string] {
  let args = call.arguments;
  try {
    args = pythonJson(JSON.parse(call.arguments));
  } catch { /* not JSON: rendered as sent */ }
  return [`{"name": "${call.name}", "parameters": `, args, "}"];
}

/** An assistant message's calls as the template renders them (joined by `; ` past the first). */
export function renderToolCalls(calls: readonly ToolCallText[]): string {
  return calls.map((call) => toolCallParts(call).join("")).join(TOOL_CALL_SEPARATOR);
}

/**
 * Renders messages with Llama 3.1's chat template (vLLM's `tool_chat_template_llama3.1_json`): the
 * system header with its knowledge-date preamble, the tools (if any) in the first user message,
 * one header and `<|eot_id|>` per message (tool calls as JSON, tool results as `ipython`), and the
 * assistant header. A prompt rendered from a conversation is a prefix of the one rendered after
 * the assistant's answer (text or calls) and the next message are appended, which is what lets a
 * prefix cache serve turns. The stock template refuses more than one call a message; this one
 * writes them as the llama3_json parser reads them.
 */
export function renderChat(messages: readonly ChatTurn[], options: RenderChatOptions = {}): string {
  const parts: string[] = ["<|begin_of_text|>"];
  let rest = messages;
  let system = "";
  if (messages[0]?.role === "system" || messages[0]?.role === "developer") {
    system = messages[0].content;
    rest = rest.slice(1);
  }
  const tools = options.tools;
  parts.push(
    "<|start_header_id|>system<|end_header_id|>\n\n",
    tools ? "Environment: ipython\n" : "",
    LLAMA31_SYSTEM_PREAMBLE,
    system,
    "<|eot_id|>",
  );
  if (tools) {
    let firstUser = "";
    if (rest[0]?.role === "user") {
      firstUser = rest[0].content;
      rest = rest.slice(1);
    }
    parts.push("<|start_header_id|>user<|end_header_id|>\n\n", LLAMA31_TOOLS_PREAMBLE);
    for (const tool of tools) parts.push(JSON.stringify(tool, null, 4), "\n\n");
    parts.push(firstUser, "<|eot_id|>");
  }
  for (const m of rest) {
    const role = m.role === "tool" ? "ipython" : m.role;
    const text = m.toolCalls?.length ? renderToolCalls(m.toolCalls) : m.content;
    parts.push("<|start_header_id|>", role, "<|end_header_id|>\n\n", text, "<|eot_id|>");
  }
  parts.push("<|start_header_id|>assistant<|end_header_id|>\n\n");
  return parts.join("");
}

/** Renders a completion prompt: the beginning-of-text token, then the text. */
export function renderCompletion(prompt: string): string {
  return "<|begin_of_text|>" + prompt;
}

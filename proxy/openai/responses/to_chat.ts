/** Responses input items, tools and parameters turned into a chat completion request for a vLLM replica. */
import type { AssistantMessage, ChatMessage, ToolCall } from "../../../actors/session/messages.ts";
import type {
  FunctionTool,
  InputItem,
  MessageItem,
  ResponseCreateBody,
  ToolChoice,
} from "./schemas.ts";

/** A chat text part, the shape a content array of several parts becomes. */
export type ChatTextPart = { type: "text"; text: string };

/** A chat completions tool. */
export interface ChatTool {
  type: "function";
  function: {
    name: string;
    description?: string;
    parameters?: Record<string, unknown>;
    strict?: boolean;
  };
}

/** A chat completions `tool_choice`. */
export type ChatToolChoice =
  | "auto"
  | "none"
  | "required"
  | { type: "function"; function: { name: string } };

/** The chat completion request body sent upstream. */
export interface ChatCompletionRequest {
  model: string;
  messages: ChatMessage[];
  stream?: boolean;
  stream_options?: { include_usage: boolean };
  tools?: ChatTool[];
  tool_choice?: ChatToolChoice;
  parallel_tool_calls?: boolean;
  max_tokens?: number;
  temperature?: number;
  top_p?: number;
  user?: string;
}

/** The request fields {@linkcode chatRequest} carries over. */
export type ChatParams = Partial<
  Pick<
    ResponseCreateBody,
    | "tools"
    | "tool_choice"
    | "parallel_tool_calls"
    | "stream"
    | "max_output_tokens"
    | "temperature"
    | "top_p"
    | "user"
  >
>;

/** The request's `input` as items: a string is one user message, no input is none. */
export function inputItems(input: ResponseCreateBody["input"]): InputItem[] {
  if (input === undefined) return [];
  if (typeof input === "string") return [{ type: "message", role: "user", content: input }];
  return input;
}

/**
 * Chat messages for `items`, in order. Consecutive `function_call` items become one assistant
 * message with `tool_calls`, and an assistant message item directly before them gives that
 * message its text; each `function_call_output` becomes a tool message.
 */
export function itemsToMessages(items: readonly InputItem[]): ChatMessage[] {
  const messages: ChatMessage[] = [];
  let open: AssistantMessage | undefined;
  for (const item of items) {
    if (item.type === "function_call") {
      const call: ToolCall = {
        id: item.call_id,
        type: "function",
        function: { name: item.name, arguments: item.arguments },
      };
      if (open) {
        open.tool_calls = [...(open.tool_calls ?? []), call];
      } else {
        open = { role: "assistant", content: null, tool_calls: [call] };
        messages.push(open);
      }
      continue;
    }
    if (item.type === "function_call_output") {
      open = undefined;
      messages.push({
        role: "tool",
        tool_call_id: item.call_id,
        content: chatContent(item.output),
      });
      continue;
    }
    const message = messageFromItem(item);
    open = message.role === "assistant" ? message : undefined;
    messages.push(message);
  }
  return messages;
}

function messageFromItem(item: MessageItem): ChatMessage {
  const content = chatContent(item.content);
  if (item.role === "assistant") return { role: "assistant", content };
  if (item.role === "user") return { role: "user", content };
  return { role: item.role, content };
}

/** One part stays a plain string (it renders the same), several stay parts. */
function chatContent(content: string | readonly { text: string }[]): string | ChatTextPart[] {
  if (typeof content === "string") return content;
  const only = content.length === 1 ? content[0] : undefined;
  if (only) return only.text;
  return content.map((p) => ({ type: "text", text: p.text }));
}

/** `messages` behind a system message holding `instructions`, when there are any. */
export function withInstructions(
  messages: readonly ChatMessage[],
  instructions: string | null | undefined,
): ChatMessage[] {
  if (!instructions) return [...messages];
  return [{ role: "system", content: instructions }, ...messages];
}

/** Responses function tools as chat tools. */
export function chatTools(tools: readonly FunctionTool[]): ChatTool[] {
  return tools.map((t) => {
    const fn: ChatTool["function"] = { name: t.name };
    if (t.description != null) fn.description = t.description;
    if (t.parameters != null) fn.parameters = t.parameters;
    if (t.strict != null) fn.strict = t.strict;
    return { type: "function", function: fn };
  });
}

/** A Responses `tool_choice` as chat's. */
export function chatToolChoice(choice: ToolChoice): ChatToolChoice {
  if (typeof choice === "string") return choice;
  return { type: "function", function: { name: choice.name } };
}

/**
 * The chat completion body for `messages`. A streamed request asks for the final usage chunk,
 * which the Responses `usage` needs; tool settings go only with tools.
 */
export function chatRequest(
  model: string,
  messages: readonly ChatMessage[],
  params: ChatParams = {},
): ChatCompletionRequest {
  const body: ChatCompletionRequest = { model, messages: [...messages] };
  if (params.stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  if (params.tools && params.tools.length > 0) {
    body.tools = chatTools(params.tools);
    if (params.tool_choice !== undefined) body.tool_choice = chatToolChoice(params.tool_choice);
    if (params.parallel_tool_calls != null) body.parallel_tool_calls = params.parallel_tool_calls;
  }
  if (params.max_output_tokens != null) body.max_tokens = params.max_output_tokens;
  if (params.temperature != null) body.temperature = params.temperature;
  if (params.top_p != null) body.top_p = params.top_p;
  if (params.user !== undefined) body.user = params.user;
  return body;
}

/** Chat completions turned back into Responses objects and conversation items. */
import { createHash } from "node:crypto";
import type OpenAI from "openai";
import { z } from "zod";
import {
  type AssistantMessage,
  AssistantMessageSchema,
  type ChatMessage,
  type ToolCall,
} from "../../../actors/session/messages.ts";
import { conversationId, type ResponseCreateBody } from "./schemas.ts";

/**
 * A Response as the API sends it: `output_text` is the SDKs' own convenience, not on the wire,
 * and `store` is on the wire though the SDK's type leaves it out.
 */
export type ResponseObject = Omit<OpenAI.Responses.Response, "output_text"> & { store: boolean };
/** An output item of a Response. */
export type OutputItem = OpenAI.Responses.ResponseOutputItem;
/** An assistant message output item. */
export type OutputMessage = OpenAI.Responses.ResponseOutputMessage;
/** A function call output item. */
export type OutputFunctionCall = OpenAI.Responses.ResponseFunctionToolCallItem;
/** A Response's token usage. */
export type ResponseUsage = OpenAI.Responses.ResponseUsage;
/** An item of a conversation, as `/v1/conversations/:id/items` lists it. */
export type ConversationItem = OpenAI.Conversations.ConversationItem;
/** The status an output item ends with. */
export type ItemStatus = "in_progress" | "completed" | "incomplete";

/** Usage as vLLM reports it on a completion or on the last stream chunk. */
export const ChatUsageSchema = z.looseObject({
  prompt_tokens: z.number().int(),
  completion_tokens: z.number().int(),
  total_tokens: z.number().int().optional(),
  prompt_tokens_details: z.looseObject({ cached_tokens: z.number().int().nullish() }).nullish(),
});

/** Chat usage. */
export type ChatUsage = z.infer<typeof ChatUsageSchema>;

const choice = z.looseObject({
  message: AssistantMessageSchema,
  finish_reason: z.string().nullish(),
});

/** A `chat.completion` body: the fields a Response is built from. */
export const ChatCompletionSchema = z.looseObject({
  choices: z.tuple([choice], choice),
  usage: ChatUsageSchema.nullish(),
});

/** Names an output item from its kind (`msg`, `fc`) and its index in the output. */
export type ItemIdFn = (prefix: string, index: number) => string;

/** Who the Response is and when; the caller owns ids so they can match its stored items. */
export interface ResponseOptions {
  /** The Response id, `resp_...`. */
  id: string;
  /** Unix seconds the request arrived. @default now */
  createdAt?: number;
  /** Unix seconds a completed Response was done. @default now */
  completedAt?: number;
  /** Output item ids. @default itemId(prefix, id, 0, index) */
  itemId?: ItemIdFn;
}

/** How a Response ended, as {@linkcode buildResponse} reports it. */
export interface ResponseOutcome {
  status: "in_progress" | "completed" | "incomplete" | "failed" | "cancelled";
  output: OutputItem[];
  usage?: ResponseUsage | undefined;
  incompleteReason?: "max_output_tokens" | "content_filter" | undefined;
  error?: OpenAI.Responses.ResponseError | null;
}

/**
 * A stable, opaque item id such as `msg_3f9a...`: the same session, turn and index always name
 * the same item, so items listed later match those a Response returned.
 */
export function itemId(prefix: string, sessionId: string, turn: number, index: number): string {
  const hash = createHash("sha256").update(`${prefix}\0${sessionId}\0${turn}\0${index}`);
  return `${prefix}_${hash.digest("hex").slice(0, 48)}`;
}

/** The output item ids for `options`. */
export function itemIds(options: ResponseOptions): ItemIdFn {
  return options.itemId ?? ((prefix, index) => itemId(prefix, options.id, 0, index));
}

/** An `output_text` part. */
export function outputText(text: string): OpenAI.Responses.ResponseOutputText {
  return { type: "output_text", text, annotations: [], logprobs: [] };
}

/** An assistant message item; without `text` it has no content part yet. */
export function messageItem(id: string, status: ItemStatus, text?: string): OutputMessage {
  const content = text === undefined ? [] : [outputText(text)];
  return { id, type: "message", status, role: "assistant", content };
}

/** A function call item for one chat tool call. */
export function functionCallItem(
  id: string,
  status: ItemStatus,
  call: ToolCall,
): OutputFunctionCall {
  const { name, arguments: args } = call.function;
  return { id, type: "function_call", status, arguments: args, call_id: call.id, name };
}

/** Responses usage from chat usage. */
export function responseUsage(usage: ChatUsage): ResponseUsage {
  const total = usage.total_tokens ?? usage.prompt_tokens + usage.completion_tokens;
  return {
    input_tokens: usage.prompt_tokens,
    input_tokens_details: {
      cached_tokens: usage.prompt_tokens_details?.cached_tokens ?? 0,
      // vLLM caches prefixes on its own and reports no explicit cache writes.
      cache_write_tokens: 0,
    },
    output_tokens: usage.completion_tokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: total,
  };
}

/** The status a chat `finish_reason` gives a Response, and why it is incomplete. */
export function finishOutcome(
  finishReason: string | null | undefined,
): Pick<ResponseOutcome, "status" | "incompleteReason"> {
  if (finishReason === "length") {
    return { status: "incomplete", incompleteReason: "max_output_tokens" };
  }
  if (finishReason === "content_filter") {
    return { status: "incomplete", incompleteReason: "content_filter" };
  }
  // The gateway's own reason for a turn cancelled through its session.
  if (finishReason === "cancelled") return { status: "cancelled" };
  return { status: "completed" };
}

/** The status of one output item: only the last one can have been cut short. */
export function itemStatus(last: boolean, status: ResponseOutcome["status"]): ItemStatus {
  return last && (status === "incomplete" || status === "cancelled") ? "incomplete" : "completed";
}

/** The output items of an assistant message: its text (when any, or when there is nothing else), then its calls. */
export function outputItems(
  message: AssistantMessage,
  status: ResponseOutcome["status"],
  ids: ItemIdFn,
): (OutputMessage | OutputFunctionCall)[] {
  const text = textOf(message.content);
  const calls = message.tool_calls ?? [];
  const hasMessage = text !== "" || calls.length === 0;
  const count = calls.length + (hasMessage ? 1 : 0);
  const items: (OutputMessage | OutputFunctionCall)[] = [];
  if (hasMessage) items.push(messageItem(ids("msg", 0), itemStatus(count === 1, status), text));
  for (const call of calls) {
    const index = items.length;
    items.push(functionCallItem(ids("fc", index), itemStatus(index === count - 1, status), call));
  }
  return items;
}

function textOf(content: ChatMessage["content"] | undefined): string {
  return typeof content === "string" ? content : texts(content ?? []).join("");
}

/** The Response object for `request` and how it ended, every field OpenAI sends. */
export function buildResponse(
  request: ResponseCreateBody,
  options: ResponseOptions,
  outcome: ResponseOutcome,
): ResponseObject {
  const conversation = conversationId(request);
  const completed = outcome.status === "completed";
  const response: ResponseObject = {
    id: options.id,
    object: "response",
    created_at: options.createdAt ?? nowSeconds(),
    status: outcome.status,
    background: false,
    completed_at: completed ? options.completedAt ?? nowSeconds() : null,
    error: outcome.error ?? null,
    incomplete_details: outcome.incompleteReason ? { reason: outcome.incompleteReason } : null,
    instructions: request.instructions ?? null,
    max_output_tokens: request.max_output_tokens ?? null,
    max_tool_calls: null,
    model: request.model,
    output: outcome.output,
    parallel_tool_calls: request.parallel_tool_calls ?? true,
    previous_response_id: request.previous_response_id ?? null,
    conversation: conversation === undefined ? null : { id: conversation },
    store: request.store,
    temperature: request.temperature ?? null,
    text: { format: { type: "text" } },
    tool_choice: responseToolChoice(request.tool_choice),
    tools: (request.tools ?? []).map((t) => ({
      type: "function",
      name: t.name,
      description: t.description ?? null,
      parameters: t.parameters ?? null,
      strict: t.strict ?? null,
    })),
    top_p: request.top_p ?? null,
    truncation: request.truncation,
    metadata: request.metadata ?? {},
    access_programs: null,
  };
  if (outcome.usage) response.usage = outcome.usage;
  if (request.user !== undefined) response.user = request.user;
  return response;
}

function responseToolChoice(
  choice: ResponseCreateBody["tool_choice"],
): ResponseObject["tool_choice"] {
  if (choice === undefined) return "auto";
  return typeof choice === "string" ? choice : { type: "function", name: choice.name };
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * The Response for a `chat.completion` body answering `request`; throws a ZodError when the body
 * is not a chat completion.
 */
export function responseFromChat(
  completion: unknown,
  request: ResponseCreateBody,
  options: ResponseOptions,
): ResponseObject {
  const { choices, usage } = ChatCompletionSchema.parse(completion);
  const [first] = choices;
  const { status, incompleteReason } = finishOutcome(first.finish_reason);
  return buildResponse(request, options, {
    status,
    incompleteReason,
    output: outputItems(first.message, status, itemIds(options)),
    usage: usage ? responseUsage(usage) : undefined,
  });
}

/**
 * Conversation items for chat messages, in order: user, system and developer messages hold
 * `input_text`, an assistant message its `output_text` (when it has text or nothing else) then
 * one `function_call` per tool call, a tool message a `function_call_output`. `ids` gets each
 * item's index in the result, so one turn's items keep their ids however often they are listed.
 */
export function itemsFromChat(messages: readonly ChatMessage[], ids: ItemIdFn): ConversationItem[] {
  const items: ConversationItem[] = [];
  for (const m of messages) {
    if (m.role === "tool") {
      items.push({
        id: ids("fco", items.length),
        type: "function_call_output",
        status: "completed",
        call_id: m.tool_call_id,
        output: typeof m.content === "string"
          ? m.content
          : texts(m.content).map((text) => ({ type: "input_text", text })),
      });
    } else if (m.role === "assistant") {
      const calls = m.tool_calls ?? [];
      const parts = typeof m.content === "string" ? [m.content] : texts(m.content ?? []);
      if (calls.length === 0 || parts.join("") !== "") {
        items.push({
          ...messageItem(ids("msg", items.length), "completed"),
          content: parts.map(outputText),
        });
      }
      for (const call of calls) {
        items.push(functionCallItem(ids("fc", items.length), "completed", call));
      }
    } else {
      const parts = typeof m.content === "string" ? [m.content] : texts(m.content);
      items.push({
        id: ids("msg", items.length),
        type: "message",
        status: "completed",
        role: m.role,
        content: parts.map((text) => ({ type: "input_text", text })),
      });
    }
  }
  return items;
}

function texts(parts: readonly { type: string; text?: unknown }[]): string[] {
  return parts.flatMap((p) => (p.type === "text" && typeof p.text === "string" ? [p.text] : []));
}

/** A page of conversation items, as `GET /v1/conversations/:id/items` answers. */
export interface ConversationItemList {
  object: "list";
  data: ConversationItem[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

/** The list body for a page of `items`. */
export function itemList(items: ConversationItem[], hasMore = false): ConversationItemList {
  const id = (item: ConversationItem | undefined) => item && "id" in item ? item.id : null;
  return {
    object: "list",
    data: items,
    first_id: id(items[0]),
    last_id: id(items.at(-1)),
    has_more: hasMore,
  };
}

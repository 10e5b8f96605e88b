/**
 * Session turn records as Responses objects and conversation items: what a Responses turn keeps
 * in its record's `extra`, the stable ids of a turn's items, and the Response a record rebuilds.
 */
import { z } from "zod";
import {
  type ChatMessage,
  contentText,
  type TurnRecord,
  writtenMessages,
} from "../../../actors/session/mod.ts";
import {
  buildResponse,
  type ConversationItem,
  finishOutcome,
  itemId,
  type ItemIdFn,
  itemsFromChat,
  outputItems,
  type ResponseObject,
  type ResponseOutcome,
  responseUsage,
} from "./from_chat.ts";
import { responseId } from "./ids.ts";
import { type ResponseCreateBody, ResponseCreateBodySchema } from "./schemas.ts";

/** The `extra` of a turn a `POST /v1/responses` took. */
export const ResponseExtraSchema = z.looseObject({
  api: z.literal("responses"),
  /** The model the turn ran on. */
  model: z.string(),
  /** Unix seconds the request arrived. */
  created_at: z.number(),
  /** The request's parameters, less its input. */
  request: z.record(z.string(), z.unknown()),
  /** The instructions in effect once this turn is in the history. */
  instructions: z.string().nullable(),
  /** Whether the turn's first input message is those instructions (hidden from item lists). */
  instructions_message: z.boolean(),
  /** Whether the request sent those instructions (kept once, here, not in `request`). */
  instructions_given: z.boolean().optional(),
  /** Set on the copies of a fork: the turn it copies (a copy is not a Response of its own). */
  copied_from: z.unknown().optional(),
  /** Set by `DELETE /v1/responses/:id`. */
  response_deleted: z.boolean().optional(),
});

/** What a Responses turn keeps. */
export type ResponseExtra = z.infer<typeof ResponseExtraSchema>;

/**
 * The request fields a Responses turn keeps: all but its input, its stream flag and its
 * instructions, which the turn keeps once as those in effect (they can be long).
 */
export function requestFields(body: ResponseCreateBody): Record<string, unknown> {
  const { input: _input, stream: _stream, instructions: _instructions, ...rest } = body;
  return JSON.parse(JSON.stringify(rest));
}

/** The Responses `extra` of a turn record, or undefined when it is not one. */
export function responseExtra(record: TurnRecord): ResponseExtra | undefined {
  const parsed = ResponseExtraSchema.safeParse(record.extra);
  return parsed.success ? parsed.data : undefined;
}

/** One item of a turn, and the message it shows. */
export interface TurnItem {
  item: ConversationItem;
  turn: number;
  /** The message's index in the turn: input first, then output. */
  message: number;
}

/** Item ids for a turn: an item's index counts every item of the turn before it. */
function turnIds(sessionId: string, turn: number, offset: number): ItemIdFn {
  return (prefix, index) => itemId(prefix, sessionId, turn, offset + index);
}

/** How many items `messages` show. */
export function itemCount(messages: readonly ChatMessage[]): number {
  return itemsFromChat(messages, () => "").length;
}

/** The ids of a turn's output items, after its `input` messages' items. */
export function outputIds(
  sessionId: string,
  turn: number,
  input: readonly ChatMessage[],
): ItemIdFn {
  return turnIds(sessionId, turn, itemCount(input));
}

/**
 * The items of one turn record (only its input when `inputOnly`), with ids that never change;
 * deleted messages, deleted parts of messages and the hidden instructions message are left out.
 */
export function turnItems(sessionId: string, record: TurnRecord, inputOnly = false): TurnItem[] {
  const deleted = new Set(record.deleted);
  if (responseExtra(record)?.instructions_message) deleted.add(0);
  const current = [...record.input, ...record.output];
  const written = writtenMessages(record).slice(0, inputOnly ? record.input.length : undefined);
  const out: TurnItem[] = [];
  let position = 0;
  written.forEach((message, index) => {
    // Ids count the items as first written, so deleting a part moves no other item's id.
    const items = writtenItems(record, index, message, turnIds(sessionId, record.turn, position));
    position += items.length;
    if (deleted.has(index)) return;
    const now = current[index]!;
    for (const item of items) {
      if (now === message || shows(now, item)) {
        out.push({ item, turn: record.turn, message: index });
      }
    }
  });
  return out;
}

/** The items of message `index` of `record`; the reply's are the Response's output items. */
function writtenItems(
  record: TurnRecord,
  index: number,
  message: ChatMessage,
  ids: ItemIdFn,
): ConversationItem[] {
  if (index === record.input.length && message.role === "assistant") {
    return outputItems(message, replyOutcome(record).status, ids);
  }
  return itemsFromChat([message], ids);
}

/** Whether `message`, less any deleted parts, still shows `item` of the message as written. */
function shows(message: ChatMessage, item: ConversationItem): boolean {
  if (message.role !== "assistant") return true;
  if (item.type === "function_call") {
    return (message.tool_calls ?? []).some((c) => c.id === item.call_id);
  }
  return contentText(message) !== "" || (message.tool_calls ?? []).length === 0;
}

/**
 * The Response turn `record` of `sessionId` was, as `POST /v1/responses` answered it; undefined
 * when the turn is no Response (another route's turn, a fork's copy, a deleted Response).
 */
export function responseOfTurn(sessionId: string, record: TurnRecord): ResponseObject | undefined {
  const extra = responseExtra(record);
  if (!extra || extra.copied_from !== undefined || extra.response_deleted) return undefined;
  const request = ResponseCreateBodySchema.safeParse(extra.request);
  if (!request.success) return undefined;
  const instructions = request.data.instructions ??
    (extra.instructions_given ? extra.instructions : null);
  const { status, incompleteReason } = replyOutcome(record);
  // The Response as answered, whatever parts of it were deleted from the conversation since.
  const written = writtenMessages(record);
  const reply = written[record.input.length];
  const ids = outputIds(sessionId, record.turn, written.slice(0, record.input.length));
  return buildResponse({ ...request.data, instructions }, {
    id: responseId(sessionId, record.turn),
    createdAt: extra.created_at,
    completedAt: Math.floor(record.created_at_ms / 1000),
  }, {
    status,
    incompleteReason,
    output: reply?.role === "assistant" ? outputItems(reply, status, ids) : [],
    usage: responseUsage({
      prompt_tokens: record.usage.prompt_tokens,
      completion_tokens: record.usage.completion_tokens,
      prompt_tokens_details: { cached_tokens: record.usage.cached_tokens },
    }),
  });
}

/** How the reply of `record` ended. */
function replyOutcome(record: TurnRecord): Pick<ResponseOutcome, "status" | "incompleteReason"> {
  return record.status === "cancelled"
    ? { status: "cancelled", incompleteReason: undefined }
    : finishOutcome(record.finish_reason);
}

/** A list page query: `limit`, `after` (an item id), `order` (newest first by default, as OpenAI). */
export const ItemPageQuerySchema = z.looseObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  after: z.string().min(1).optional(),
  order: z.enum(["asc", "desc"]).default("desc"),
});

/** A parsed page query. */
export type ItemPageQuery = z.infer<typeof ItemPageQuerySchema>;

/** One page of `items` (oldest first), or undefined when `after` names none of them. */
export function itemPage<T extends { item: ConversationItem }>(
  items: readonly T[],
  query: ItemPageQuery,
): { items: T[]; hasMore: boolean } | undefined {
  const ordered = query.order === "desc" ? [...items].reverse() : [...items];
  let start = 0;
  if (query.after !== undefined) {
    const at = ordered.findIndex((t) => "id" in t.item && t.item.id === query.after);
    if (at < 0) return undefined;
    start = at + 1;
  }
  const page = ordered.slice(start, start + query.limit);
  return { items: page, hasMore: start + query.limit < ordered.length };
}

/** A streamed chat completion from vLLM, chunk by chunk, as Responses streaming events. */
import type OpenAI from "openai";
import { z } from "zod";
import type { AssistantMessage, ToolCall } from "../../../actors/session/messages.ts";
import {
  buildResponse,
  ChatUsageSchema,
  finishOutcome,
  functionCallItem,
  type ItemIdFn,
  itemIds,
  itemStatus,
  messageItem,
  type OutputItem,
  outputText,
  type ResponseObject,
  type ResponseOptions,
  type ResponseOutcome,
  responseUsage,
} from "./from_chat.ts";
import type { ResponseCreateBody } from "./schemas.ts";

/** An SDK event type with the Response it carries as the wire has it (see `ResponseObject`). */
type OnTheWire<E> = E extends { response: OpenAI.Responses.Response }
  ? Omit<E, "response"> & { response: ResponseObject }
  : E;

/** A Responses streaming event. */
export type ResponseStreamEvent = OnTheWire<OpenAI.Responses.ResponseStreamEvent>;

const ToolCallDeltaSchema = z.looseObject({
  index: z.number().int().nonnegative(),
  id: z.string().nullish(),
  function: z.looseObject({ name: z.string().nullish(), arguments: z.string().nullish() })
    .nullish(),
});

/** A `chat.completion.chunk`: the fields the translator reads. */
export const ChatChunkSchema = z.looseObject({
  choices: z.array(z.looseObject({
    delta: z.looseObject({
      content: z.string().nullish(),
      tool_calls: z.array(ToolCallDeltaSchema).nullish(),
    }).nullish(),
    finish_reason: z.string().nullish(),
  })).default([]),
  usage: ChatUsageSchema.nullish(),
});

interface TextState {
  kind: "message";
  id: string;
  text: string;
}

interface CallState {
  kind: "call";
  id: string;
  call: ToolCall;
}

type ItemState = TextState | CallState;

/** `event: <type>` and `data: <json>`, the way OpenAI's server frames each event. */
export function encodeEvent(event: { type: string }): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/**
 * Turns the chunks of one streamed chat completion into the events of one Response, in order:
 * `response.created` and `response.in_progress`, then per output item its `added`, deltas and
 * `done` events, then `response.completed` or `response.incomplete`. Each call returns the events
 * to send now.
 *
 * @example
 * ```ts
 * const t = new ResponseStreamTranslator(request, { id: "resp_1" });
 * send(t.start());
 * for await (const chunk of upstream) send(t.push(chunk));
 * send(t.finish());
 * store(t.message);
 * ```
 */
export class ResponseStreamTranslator {
  #request: ResponseCreateBody;
  #options: ResponseOptions & { createdAt: number };
  #ids: ItemIdFn;
  #sequence = 0;
  #started = false;
  #items: ItemState[] = [];
  #calls = new Map<number, CallState>();
  #closed = new WeakSet<ItemState>();
  #finishReason: string | null = null;
  #usage: ResponseObject["usage"];
  #response: ResponseObject | undefined;

  /** A translator for the Response `options.id` answering `request`. */
  constructor(request: ResponseCreateBody, options: ResponseOptions) {
    this.#request = request;
    this.#options = { ...options, createdAt: options.createdAt ?? Math.floor(Date.now() / 1000) };
    this.#ids = itemIds(options);
  }

  /** The opening events; {@linkcode push} sends them itself when they have not been. */
  start(): ResponseStreamEvent[] {
    if (this.#started) return [];
    this.#started = true;
    const response = this.#build({ status: "in_progress", output: [] });
    return [
      { type: "response.created", response, sequence_number: this.#next() },
      { type: "response.in_progress", response, sequence_number: this.#next() },
    ];
  }

  /** The events for one parsed chunk; throws a ZodError when it is not a chat completion chunk. */
  push(chunk: unknown): ResponseStreamEvent[] {
    const { choices, usage } = ChatChunkSchema.parse(chunk);
    const events = this.start();
    if (usage) this.#usage = responseUsage(usage);
    const choice = choices[0];
    if (!choice) return events;
    const content = choice.delta?.content;
    if (content) events.push(...this.#text(content));
    for (const delta of choice.delta?.tool_calls ?? []) events.push(...this.#toolCall(delta));
    if (choice.finish_reason) this.#finishReason = choice.finish_reason;
    return events;
  }

  /** The closing events, ending with `response.completed` or `response.incomplete`. */
  finish(): ResponseStreamEvent[] {
    if (this.#response) return [];
    const events = this.start();
    const { status, incompleteReason } = finishOutcome(this.#finishReason);
    if (this.#items.length === 0) this.#openText(events);
    events.push(...this.#close(status));
    const output = this.#items.map((s, i) =>
      this.#item(s, itemStatus(i === this.#items.length - 1, status))
    );
    const response = this.#build({ status, incompleteReason, output, usage: this.#usage });
    this.#response = response;
    const type = status === "completed" ? "response.completed" : "response.incomplete";
    events.push({ type, response, sequence_number: this.#next() });
    return events;
  }

  /** `response.failed` for an upstream that broke off; the output so far is kept. */
  fail(message: string): ResponseStreamEvent[] {
    if (this.#response) return [];
    const events = this.start();
    const output = this.#items.map((s) =>
      this.#item(s, this.#closed.has(s) ? "completed" : "incomplete")
    );
    const error = { code: "server_error" as const, message };
    const response = this.#build({ status: "failed", output, usage: this.#usage, error });
    this.#response = response;
    events.push({ type: "response.failed", response, sequence_number: this.#next() });
    return events;
  }

  /** The assistant message streamed so far, as the session stores it. */
  get message(): AssistantMessage {
    const text = this.#items.map((s) => (s.kind === "message" ? s.text : "")).join("");
    const calls = this.#items.flatMap((s) => (s.kind === "call" ? [s.call] : []));
    if (calls.length === 0) return { role: "assistant", content: text };
    return { role: "assistant", content: text === "" ? null : text, tool_calls: calls };
  }

  /** The final Response, once {@linkcode finish} or {@linkcode fail} has built it. */
  get response(): ResponseObject | undefined {
    return this.#response;
  }

  #text(delta: string): ResponseStreamEvent[] {
    const events: ResponseStreamEvent[] = [];
    const last = this.#items.at(-1);
    const open = last?.kind === "message" ? last : this.#openText(events);
    open.text += delta;
    events.push({
      type: "response.output_text.delta",
      item_id: open.id,
      output_index: this.#items.length - 1,
      content_index: 0,
      delta,
      logprobs: [],
      sequence_number: this.#next(),
    });
    return events;
  }

  /** Closes the open item and opens an empty message after it, its events pushed on `events`. */
  #openText(events: ResponseStreamEvent[]): TextState {
    events.push(...this.#close("completed"));
    const index = this.#items.length;
    const state: TextState = { kind: "message", id: this.#ids("msg", index), text: "" };
    this.#items.push(state);
    events.push(
      {
        type: "response.output_item.added",
        output_index: index,
        item: messageItem(state.id, "in_progress"),
        sequence_number: this.#next(),
      },
      {
        type: "response.content_part.added",
        item_id: state.id,
        output_index: index,
        content_index: 0,
        part: outputText(""),
        sequence_number: this.#next(),
      },
    );
    return state;
  }

  #toolCall(delta: z.infer<typeof ToolCallDeltaSchema>): ResponseStreamEvent[] {
    const events: ResponseStreamEvent[] = [];
    let state = this.#calls.get(delta.index);
    if (!state) {
      events.push(...this.#close("completed"));
      const index = this.#items.length;
      const id = this.#ids("fc", index);
      const name = delta.function?.name ?? "";
      const call: ToolCall = {
        id: delta.id ?? this.#ids("call", index),
        type: "function",
        function: { name, arguments: "" },
      };
      state = { kind: "call", id, call };
      this.#calls.set(delta.index, state);
      this.#items.push(state);
      events.push({
        type: "response.output_item.added",
        output_index: index,
        item: functionCallItem(id, "in_progress", call),
        sequence_number: this.#next(),
      });
    } else if (delta.function?.name && state.call.function.name === "") {
      state.call.function.name = delta.function.name;
    }
    const args = delta.function?.arguments;
    if (args) {
      state.call.function.arguments += args;
      events.push({
        type: "response.function_call_arguments.delta",
        item_id: state.id,
        output_index: this.#items.indexOf(state),
        delta: args,
        sequence_number: this.#next(),
      });
    }
    return events;
  }

  /** The `done` events of the last item, when it is still open. */
  #close(status: ResponseOutcome["status"]): ResponseStreamEvent[] {
    const index = this.#items.length - 1;
    const state = this.#items[index];
    if (!state || this.#closed.has(state)) return [];
    this.#closed.add(state);
    const at = { item_id: state.id, output_index: index };
    const events: ResponseStreamEvent[] = [];
    if (state.kind === "message") {
      const { text } = state;
      events.push(
        {
          type: "response.output_text.done",
          ...at,
          content_index: 0,
          text,
          logprobs: [],
          sequence_number: this.#next(),
        },
        {
          type: "response.content_part.done",
          ...at,
          content_index: 0,
          part: outputText(text),
          sequence_number: this.#next(),
        },
      );
    } else {
      const args = state.call.function.arguments;
      events.push({
        type: "response.function_call_arguments.done",
        ...at,
        arguments: args,
        sequence_number: this.#next(),
      });
    }
    const item = this.#item(state, itemStatus(true, status));
    events.push({
      type: "response.output_item.done",
      output_index: index,
      item,
      sequence_number: this.#next(),
    });
    return events;
  }

  #item(state: ItemState, status: ReturnType<typeof itemStatus>): OutputItem {
    return state.kind === "message"
      ? messageItem(state.id, status, state.text)
      : functionCallItem(state.id, status, state.call);
  }

  #build(outcome: ResponseOutcome): ResponseObject {
    return buildResponse(this.#request, this.#options, outcome);
  }

  #next(): number {
    return this.#sequence++;
  }
}

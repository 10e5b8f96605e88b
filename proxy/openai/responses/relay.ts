/**
 * The chat.completion.chunk SSE a session turn answers, relayed as Responses events: the final
 * `response.completed` goes out only after the turn's `data: [DONE]`, which comes once the turn is
 * committed.
 */
import { createParser } from "eventsource-parser";
import type { ResponseObject } from "./from_chat.ts";
import { encodeEvent, type ResponseStreamEvent, type ResponseStreamTranslator } from "./stream.ts";

/** Options of {@linkcode relayResponseStream}. */
export interface RelayOptions {
  /** The committed Response, rebuilt from its turn record, to close the stream with. */
  committed(): Promise<ResponseObject | undefined>;
  /** Runs once the stream is over, however it ended. */
  finally(): Promise<void>;
}

const encoder = new TextEncoder();

/** Responses SSE for the chat SSE `source` of one committed-or-not session turn. */
export function relayResponseStream(
  source: ReadableStream<Uint8Array>,
  translator: ResponseStreamTranslator,
  options: RelayOptions,
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  const decoder = new TextDecoder();
  let pending: ResponseStreamEvent[] = translator.start();
  let done = false;
  let failure: string | undefined;
  let ended = false;
  const parser = createParser({
    onEvent: ({ data }) => {
      if (data.trim() === "[DONE]") {
        done = true;
        return;
      }
      let chunk: unknown;
      try {
        chunk = JSON.parse(data);
      } catch {
        return;
      }
      const error = errorOf(chunk);
      if (error !== undefined) {
        failure = error;
        return;
      }
      try {
        pending.push(...translator.push(chunk));
      } catch {
        // Not a chat chunk: nothing to translate.
      }
    },
  });
  const end = async () => {
    if (ended) return;
    ended = true;
    await options.finally().catch(() => {});
  };
  return new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      while (pending.length === 0) {
        const next = await reader.read().catch(() => ({ done: true as const, value: undefined }));
        if (next.done) {
          parser.feed("\n\n");
          pending.push(
            ...await closing(translator, done && failure === undefined, failure, options),
          );
          send(controller, pending);
          await end();
          controller.close();
          return;
        }
        parser.feed(decoder.decode(next.value, { stream: true }));
      }
      send(controller, pending);
      pending = [];
    },
    cancel: async () => {
      await reader.cancel().catch(() => {});
      await end();
    },
  }, { highWaterMark: 0 });
}

function send(
  controller: ReadableStreamDefaultController<Uint8Array>,
  events: ResponseStreamEvent[],
) {
  for (const e of events) controller.enqueue(encoder.encode(encodeEvent(e)));
  events.length = 0;
}

/** The last events: the finish, carrying the Response as stored, or a failure. */
async function closing(
  translator: ResponseStreamTranslator,
  committed: boolean,
  failure: string | undefined,
  options: RelayOptions,
): Promise<ResponseStreamEvent[]> {
  if (!committed) {
    return translator.fail(
      failure ?? "The model's stream ended before the reply was complete; the turn was not saved",
    );
  }
  const events = translator.finish();
  const last = events.at(-1);
  const stored = await options.committed().catch(() => undefined);
  if (stored && last && "response" in last) last.response = stored;
  return events;
}

function errorOf(chunk: unknown): string | undefined {
  if (typeof chunk !== "object" || chunk === null || !("error" in chunk)) return undefined;
  const error = (chunk as { error: unknown }).error;
  if (typeof error === "object" && error !== null && "message" in error) {
    return String((error as { message: unknown }).message);
  }
  return "The turn failed";
}

/**
 * Plain `/v1/chat/completions` calls that carry the session header are recorded into that session:
 * the answer is relayed unchanged while a tap keeps its bytes, and once its last byte is sent the
 * answer is rebuilt from them and the call appended to the session, off the hot path (the client
 * sent its whole prompt; nothing changes for it).
 */
import { errorField, logger } from "../../actors/runtime/log.ts";
import { createParser } from "eventsource-parser";
import { z } from "zod";
import { ChatMessageSchema, type SessionService } from "../../actors/session/mod.ts";
import type { Exchange } from "../openai/exchange.ts";
import { concatBytes } from "../upstream/mod.ts";
import { ChunkAssembler } from "./assemble.ts";

/** The body fields a recorded call needs; anything the session cannot hold is not recorded. */
const RecordedBody = z.looseObject({
  model: z.string(),
  messages: z.array(ChatMessageSchema).min(1),
});

/**
 * The largest answer rebuilt for the session, in bytes as relayed (a stream's SSE events take
 * about 150 bytes a token); a larger one is relayed but not recorded.
 */
const MAX_ANSWER_BYTES = 8 << 20;

/** What a recorder sees of a call: its record, and the relay's tap it may set. */
export type ObservedCall = Pick<Exchange, "record" | "relaysBody" | "bodyTap">;

/** Watches the answers of plain chat calls and records those with a session header. */
export type PlainObserver = (call: ObservedCall, json: unknown, response: Response) => Response;

/** The observer that records plain chat calls into `sessions`. */
export function plainRecorder(sessions: SessionService): PlainObserver {
  // Each session's calls are recorded one after another, in the order their answers ended.
  const queues = new Map<string, Promise<void>>();
  const enqueue = (sessionId: string, write: () => Promise<unknown>): void => {
    const next = (queues.get(sessionId) ?? Promise.resolve()).then(write).then(
      () => {},
      (error) =>
        logger.error("recording a call into its session failed", {
          session_id: sessionId,
          error: errorField(error),
        }),
    );
    queues.set(sessionId, next);
    next.then(() => {
      if (queues.get(sessionId) === next) queues.delete(sessionId);
    });
  };
  return (call, json, response) => {
    const record = call.record;
    const sessionId = record.sessionId;
    if (sessionId === undefined || response.status !== 200 || response.body === null) {
      return response;
    }
    const body = RecordedBody.safeParse(json);
    if (!body.success) return response;
    const streamed = (response.headers.get("content-type") ?? "").includes("text/event-stream");
    const tap = streamed ? streamTap() : jsonTap();
    const backend = response.headers.get("x-turnpike-backend");
    // Rebuilt in the session's queue, after the relay: parsing each event as it passed cost the
    // relay of every stream on the gateway (one JSON.parse an event).
    const recordIt = () =>
      enqueue(sessionId, async () => {
        const answer = tap.end();
        if (!answer || answer.error !== undefined) return;
        await sessions.recordPlain(sessionId, {
          model: body.data.model,
          messages: body.data.messages,
          output: answer.message(true),
          finishReason: answer.finishReason,
          usage: answer.usage,
          backend,
          requestId: record.requestId,
          taskId: record.taskId,
          clientId: record.clientId,
        });
      });
    // A relayed body hands the tap its chunks itself; another layer of stream around it cost
    // every chunk a write and a read of its own.
    if (call.relaysBody) {
      call.bodyTap = { take: (chunk) => tap.take(chunk), end: recordIt };
      return response;
    }
    const piped = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          controller.enqueue(chunk);
          tap.take(chunk);
        },
        flush: recordIt,
      }),
    );
    return new Response(piped, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}

export interface Tap {
  take(chunk: Uint8Array): void;
  /** The rebuilt answer, or undefined when it could not be read. */
  end(): ChunkAssembler | undefined;
}

/**
 * A tap that keeps the relayed chunks (the relay hands over copies it no longer touches), up to
 * {@linkcode MAX_ANSWER_BYTES}, and rebuilds the answer from their text at the end.
 */
function keepingTap(rebuild: (text: string) => ChunkAssembler | undefined): Tap {
  const chunks: Uint8Array[] = [];
  let size = 0;
  return {
    take(chunk) {
      size += chunk.byteLength;
      if (size <= MAX_ANSWER_BYTES) chunks.push(chunk);
    },
    end() {
      if (size > MAX_ANSWER_BYTES) return undefined;
      return rebuild(new TextDecoder().decode(concatBytes(chunks, size)));
    },
  };
}

/** Rebuilds a streamed answer from its SSE events, all parsed at its end. */
export function streamTap(): Tap {
  return keepingTap((text) => {
    const events: string[] = [];
    let done = false;
    const parser = createParser({
      onEvent(event) {
        if (event.data === "[DONE]") done = true;
        else if (!done) events.push(event.data);
      },
    });
    parser.feed(text);
    if (!done) return undefined;
    const assembler = new ChunkAssembler();
    let parsed: unknown[];
    try {
      // One parse of them all: a call per event costs several times more.
      parsed = JSON.parse(`[${events.join(",")}]`);
    } catch {
      assembler.error = "an event of the answer is not JSON";
      return assembler;
    }
    for (const event of parsed) assembler.push(event);
    return assembler;
  });
}

/** Rebuilds a non-streamed answer from its JSON body. */
export function jsonTap(): Tap {
  return keepingTap((text) => {
    try {
      const assembler = new ChunkAssembler();
      assembler.push(JSON.parse(text));
      return assembler;
    } catch {
      return undefined;
    }
  });
}

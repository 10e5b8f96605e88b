/**
 * Session turns over a WebSocket (`GET /v1/sessions/:id/ws`): the client sends turns, cancels and
 * pings as JSON text frames; the gateway answers with each turn's start, its chunks as SSE would
 * carry them, and its end once committed. Each turn runs through {@linkcode runTurn}, as over HTTP.
 */
import { errorField, logger } from "../../actors/runtime/log.ts";
import { createParser } from "eventsource-parser";
import { z } from "zod";
import { endedRefusal, type SessionHead } from "../../actors/session/mod.ts";
import { errorBody, errorResponse, type OpenAIErrorBody } from "../errors.ts";
import { parseValue } from "../json_body.ts";
import { ChunkAssembler } from "./assemble.ts";
import { refusalResponse, turnCall } from "./routes.ts";
import { runTurn, type TurnContext } from "./turn.ts";

/** Options of {@linkcode sessionSocket}: the turn services and the session the socket serves. */
export interface SessionSocketOptions extends TurnContext {
  /** The `:id` of the route. */
  sessionId: string;
}

/** A client's frame. A turn's other fields are its body, as `POST /v1/sessions/:id/chat` takes it. */
export const SocketMessage = z.discriminatedUnion("type", [
  z.looseObject({ type: z.literal("turn"), id: z.string().min(1).max(256).optional() }),
  z.strictObject({ type: z.literal("cancel") }),
  z.strictObject({ type: z.literal("ping") }),
]);

/** A client's frame as parsed. */
export type SocketMessage = z.infer<typeof SocketMessage>;

/** Headers of the upgrade request that every turn carries on, besides the configured ones. */
const CARRIED = ["authorization", "user-agent"];

/**
 * Answers the upgrade request of a session's socket: a 404 for an unknown session, a 400 for a
 * request that is not a WebSocket upgrade, else the 101 that opens it.
 */
export async function sessionSocket(
  request: Request,
  options: SessionSocketOptions,
): Promise<Response> {
  const found = await options.sessions.get(options.sessionId);
  if (!found.ok) return refusalResponse(found.refusal);
  const head = found.found.head;
  const ended = endedRefusal(head, Date.now(), options.sessions.config.on_expire);
  if (ended) return refusalResponse(ended);
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return errorResponse(400, "This route takes a WebSocket; send the upgrade headers", {
      code: "websocket_required",
    });
  }
  // The upgrade request cannot be read once upgraded: take what the turns need first.
  const names = options.forward.headers;
  const carried: [string, string][] = [];
  for (const name of [names.task, names.client, ...CARRIED]) {
    const value = request.headers.get(name);
    if (value !== null) carried.push([name, value]);
  }
  const url = new URL(`/v1/sessions/${head.id}/chat`, request.url);
  const { socket, response } = Deno.upgradeWebSocket(request);
  new SessionSocket(socket, carried, url, head, options);
  return response;
}

type Outgoing = Record<string, unknown> & { type: string };

/** One open socket: its turns in flight and what closing it stops. */
class SessionSocket {
  readonly #socket: WebSocket;
  /** The upgrade request's headers that every turn carries (it cannot be read once upgraded). */
  readonly #carried: [string, string][];
  readonly #url: URL;
  readonly #head: SessionHead;
  readonly #options: SessionSocketOptions;
  /** Aborts every turn's upstream request when the socket closes. */
  readonly #closed = new AbortController();
  readonly #bodies = new Set<ReadableStreamDefaultReader<string>>();
  #inFlight = 0;

  constructor(
    socket: WebSocket,
    carried: [string, string][],
    url: URL,
    head: SessionHead,
    options: SessionSocketOptions,
  ) {
    this.#socket = socket;
    this.#carried = carried;
    this.#url = url;
    this.#head = head;
    this.#options = options;
    socket.onmessage = (event) => void this.#receive(event.data);
    socket.onclose = () => this.#close();
    socket.onerror = () => {};
  }

  #send(message: Outgoing): void {
    if (this.#socket.readyState === WebSocket.OPEN) this.#socket.send(JSON.stringify(message));
  }

  /** An error frame: the HTTP status the same refusal would have, and its Retry-After if any. */
  #error(
    turn: number | null,
    status: number,
    body: OpenAIErrorBody,
    id?: string,
    retryAfter?: number,
  ): void {
    this.#send({
      type: "error",
      turn,
      ...(id === undefined ? {} : { id }),
      status,
      ...(retryAfter === undefined ? {} : { retry_after: retryAfter }),
      error: body.error,
    });
  }

  async #receive(data: unknown): Promise<void> {
    if (typeof data !== "string") {
      return this.#error(
        null,
        400,
        errorBody(400, "Send JSON text frames", { code: "invalid_message" }),
      );
    }
    let raw: unknown;
    try {
      raw = JSON.parse(data);
    } catch {
      const message = "The frame is not valid JSON; send a JSON object with a `type`";
      return this.#error(null, 400, errorBody(400, message, { code: "invalid_json" }));
    }
    const parsed = parseValue(raw, SocketMessage);
    if (!parsed.ok) return this.#error(null, 400, await parsed.response.json());
    const message = parsed.value;
    if (message.type === "ping") return this.#send({ type: "pong" });
    if (message.type === "cancel") return await this.#cancel();
    const { type: _type, id, ...body } = message;
    try {
      await this.#turn(body, id);
    } catch (error) {
      logger.error("WebSocket turn failed", { error: errorField(error) });
      const text = "The gateway failed on this turn; retry, and report it if it persists";
      this.#error(null, 500, errorBody(500, text, { code: "internal_error" }), id);
    }
  }

  async #cancel(): Promise<void> {
    const result = await this.#options.sessions.cancel(this.#head.id);
    if (!result.ok) {
      return this.#error(null, result.refusal.status, await refusalResponse(result.refusal).json());
    }
    if (result.turn === null) {
      const message = "No turn of this session is running; there is nothing to cancel";
      this.#error(null, 409, errorBody(409, message, { code: "no_turn_in_flight" }));
    }
  }

  async #turn(body: Record<string, unknown>, id: string | undefined): Promise<void> {
    if (this.#inFlight > 0 && this.#head.on_busy !== "queue") {
      const message =
        `A turn of session ${this.#head.id} is running on this socket; wait for its end, send {"type":"cancel"}, or create the session with on_busy: "queue"`;
      return this.#error(null, 409, errorBody(409, message, { code: "session_busy" }), id, 1);
    }
    const requestId = crypto.randomUUID();
    const call = turnCall(this.#head.id, body, "session", requestId);
    if (call instanceof Response) return this.#error(null, call.status, await call.json(), id);
    call.stream = true;
    this.#inFlight++;
    try {
      const response = await runTurn(this.#request(body, requestId), this.#options, call);
      await this.#relay(response, id);
    } finally {
      this.#inFlight--;
    }
  }

  /** The turn as an HTTP request: what runTurn reads of a client's, and aborted with the socket. */
  #request(body: Record<string, unknown>, requestId: string): Request {
    const headers = new Headers(this.#carried);
    headers.set("content-type", "application/json");
    headers.set("x-request-id", requestId);
    return new Request(this.#url, {
      method: "POST",
      headers,
      body: JSON.stringify({ ...body, stream: true }),
      signal: this.#closed.signal,
    });
  }

  /** Sends a turn's answer on: an error, or its start, chunks and end. */
  async #relay(response: Response, id: string | undefined): Promise<void> {
    const tag = id === undefined ? {} : { id };
    if (response.status !== 200 || response.body === null) {
      // The HTTP status and Retry-After a refusal would carry (a 429's wait) go in the frame.
      const retryAfter = Number(response.headers.get("retry-after") ?? NaN);
      return this.#error(
        null,
        response.status,
        await errorOf(response),
        id,
        Number.isFinite(retryAfter) ? retryAfter : undefined,
      );
    }
    const turn = Number(response.headers.get("x-session-turn"));
    // The socket may have closed while the turn waited for its claim: nobody reads this one.
    if (this.#closed.signal.aborted) return await response.body.cancel();
    this.#send({ type: "turn.started", turn, ...tag });
    const assembled = new ChunkAssembler();
    let done = false;
    let failed = false;
    const parser = createParser({
      onEvent: ({ data }) => {
        if (data.trim() === "[DONE]") {
          done = true;
          return;
        }
        let event: unknown;
        try {
          event = JSON.parse(data);
        } catch {
          return;
        }
        assembled.push(event);
        if (isErrorBody(event)) {
          failed = true;
          return this.#error(turn, 502, event, id);
        }
        this.#send({ type: "chunk", turn, chunk: event });
      },
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    this.#bodies.add(reader);
    try {
      for (let next = await reader.read(); !next.done; next = await reader.read()) {
        parser.feed(next.value);
      }
    } catch {
      // The socket closed and cancelled the body: the turn is abandoned, and nobody is told.
    } finally {
      this.#bodies.delete(reader);
    }
    if (failed || this.#closed.signal.aborted) return;
    if (assembled.finishReason === "cancelled") {
      return this.#send({
        type: "turn.cancelled",
        turn,
        ...tag,
        message: assembled.message(false),
      });
    }
    if (!done) {
      const message = "The turn's stream ended before its end; it was not saved, send it again";
      return this.#error(turn, 502, errorBody(502, message, { code: "upstream_error" }), id);
    }
    this.#send({
      type: "turn.completed",
      turn,
      ...tag,
      message: assembled.message(true),
      finish_reason: assembled.finishReason,
      usage: assembled.completion().usage,
    });
  }

  #close(): void {
    this.#closed.abort("client");
    for (const reader of this.#bodies) void reader.cancel("client").catch(() => {});
  }
}

/** A refusal's OpenAI-shaped body; a replica's 4xx that is not one gets wrapped. */
async function errorOf(response: Response): Promise<OpenAIErrorBody> {
  const text = await response.text();
  try {
    const body: unknown = JSON.parse(text);
    if (isErrorBody(body)) return body;
  } catch {
    // Not JSON: its text is the message.
  }
  return errorBody(response.status, text || `The turn was refused with HTTP ${response.status}`);
}

function isErrorBody(event: unknown): event is OpenAIErrorBody {
  return typeof event === "object" && event !== null && "error" in event &&
    typeof event.error === "object" && event.error !== null;
}

/**
 * One session turn over HTTP: claim the session, send the prompt it builds, stream the reply in
 * chat.completion.chunk events (or answer one chat.completion), and commit both sides to KV
 * before the final `data: [DONE]` or the JSON body goes out: an acknowledged turn is a committed
 * turn.
 */
import { createParser } from "eventsource-parser";
import type {
  SessionService,
  TurnOutcome,
  TurnPlan,
  TurnRequest,
} from "../../actors/session/mod.ts";
import { errorEvent, errorResponse } from "../errors.ts";
import { isStorageFailure, STORAGE_RETRY_AFTER_SECONDS } from "../storage_errors.ts";
import type { Attempt } from "../openai/attempt.ts";
import { Exchange } from "../openai/exchange.ts";
import { type ForwardContext, sendRouted } from "../openai/forward.ts";
import { ChunkAssembler, isRecord } from "./assemble.ts";
import type { SessionHomes } from "./homes.ts";

/** What a turn route needs. */
export interface TurnContext {
  forward: ForwardContext;
  sessions: SessionService;
  /** Told the replica that answered each turn (plain calls on the session route by it). */
  homes?: Pick<SessionHomes, "set">;
}

/** A turn as a route parsed it. */
export interface TurnCall {
  sessionId: string;
  request: TurnRequest;
  /** Request parameters sent on to the replica (`tools`, `max_tokens`, `temperature`, ...). */
  params: Record<string, unknown>;
  /** Whether the client wants SSE. */
  stream: boolean;
}

const encoder = new TextEncoder();
const DONE = "data: [DONE]\n\n";
const CHAT_PATH = "/v1/chat/completions";

/** Runs one turn; every refusal is an OpenAI-shaped error with the right status. */
export async function runTurn(
  request: Request,
  ctx: TurnContext,
  call: TurnCall,
): Promise<Response> {
  const exchange = new Exchange(request, { endpoint: CHAT_PATH, context: ctx.forward });
  exchange.record.sessionId = call.sessionId;
  const begun = await ctx.sessions.begin(call.sessionId, call.request);
  if (!begun.ok) {
    const r = begun.refusal;
    return exchange.refuse(r.status, r.message, {
      code: r.code,
      param: r.param ?? null,
      ...(r.retryAfter === undefined ? {} : { retryAfter: String(r.retryAfter) }),
    });
  }
  const plan = begun.plan;
  const onCancel = () => exchange.abort.abort("cancel");
  plan.cancel.signal.addEventListener("abort", onCancel, { once: true });
  const rest = {
    ...call.params,
    model: plan.model,
    stream: true,
    stream_options: { include_usage: true },
  };
  const body = { ...rest, messages: plan.messages };
  // The prompt's JSON comes from the session's context, which keeps its history serialized.
  const bytes = encoder.encode(
    `${JSON.stringify(rest).slice(0, -1)},"messages":${plan.messagesJson}}`,
  );
  let answered = false;
  let response: Response;
  try {
    response = await sendRouted(request, exchange, {
      model: plan.model,
      stream: call.stream,
      json: body,
      bytes,
      homeBackend: plan.backend,
      answer: (attempt) => {
        answered = true;
        ctx.homes?.set(call.sessionId, attempt.backend.id);
        return answerTurn(attempt, ctx.sessions, plan, call.stream);
      },
    });
  } catch (error) {
    plan.cancel.signal.removeEventListener("abort", onCancel);
    await ctx.sessions.abandon(plan);
    throw error;
  }
  if (!answered) {
    plan.cancel.signal.removeEventListener("abort", onCancel);
    if (plan.cancel.signal.aborted) {
      await ctx.sessions.commit(plan, cancelledOutcome(new ChunkAssembler(), null));
    } else await ctx.sessions.abandon(plan);
  }
  return response;
}

/**
 * A cancelled turn as it is kept. A stream cut short has no usage chunk, yet the replica read the
 * prompt and wrote what was streamed: without counts the session's max_tokens could be dodged by
 * cancelling, so they are the prompt as counted here and one token per streamed delta.
 */
function cancelledOutcome(
  assembled: ChunkAssembler,
  backend: string | null,
  plan?: TurnPlan,
): TurnOutcome {
  const usage = assembled.usage.prompt_tokens > 0 || plan === undefined ? assembled.usage : {
    prompt_tokens: plan.promptTokens,
    completion_tokens: assembled.deltas,
    cached_tokens: 0,
  };
  return {
    status: "cancelled",
    output: assembled.message(false),
    finishReason: "cancelled",
    usage,
    backend,
  };
}

function turnHeaders(attempt: Attempt, plan: TurnPlan, contentType: string): Headers {
  const headers = new Headers(attempt.gatewayHeaders());
  headers.set("content-type", contentType);
  headers.set("x-session-id", plan.sessionId);
  headers.set("x-session-turn", String(plan.turn));
  return headers;
}

/** Reads the replica's stream; the client gets SSE as it comes, or one JSON body after the commit. */
async function answerTurn(
  attempt: Attempt,
  sessions: SessionService,
  plan: TurnPlan,
  stream: boolean,
): Promise<Response> {
  if (attempt.status !== 200) {
    // The replica refused the built prompt (a 4xx): nothing happened, the turn is not kept.
    void sessions.abandon(plan);
    return openAIShaped(await attempt.answerAsIs());
  }
  const reader = new TurnReader(attempt.takeRelay(), sessions, plan, attempt.backend.id);
  if (!stream) {
    const chunks = await reader.drain();
    if (chunks.kind !== "committed") {
      const headers = turnHeaders(attempt, plan, "application/json");
      if (chunks.status === 503) headers.set("retry-after", STORAGE_RETRY_AFTER_SECONDS);
      return Response.json(chunks.error, { status: chunks.status, headers });
    }
    const finish = plan.cancel.signal.aborted ? "cancelled" : undefined;
    return new Response(JSON.stringify(reader.assembled.completion(finish)), {
      status: 200,
      headers: turnHeaders(attempt, plan, "application/json"),
    });
  }
  const headers = turnHeaders(attempt, plan, "text/event-stream; charset=utf-8");
  headers.set("cache-control", "no-cache");
  return new Response(reader.sse(), { status: 200, headers });
}

type Ending =
  | { kind: "committed" }
  | { kind: "failed"; status: number; error: unknown };

/** The replica's SSE events of one turn, parsed as they come, ending in a commit. */
class TurnReader {
  readonly assembled = new ChunkAssembler();
  readonly #source: ReadableStreamDefaultReader<Uint8Array>;
  readonly #sessions: SessionService;
  readonly #plan: TurnPlan;
  readonly #backend: string;
  readonly #decoder = new TextDecoder();
  #pending: string[] = [];
  #done = false;
  readonly #parser = createParser({
    onEvent: ({ data }) => {
      if (data.trim() === "[DONE]") {
        this.#done = true;
        return;
      }
      try {
        this.assembled.push(JSON.parse(data));
      } catch {
        // Not JSON: passed on as it came, as a plain call would.
      }
      // A failure event is not passed on: the turn's own error event ends the stream instead.
      if (this.assembled.error === undefined) this.#pending.push(data);
    },
  });

  constructor(
    source: ReadableStream<Uint8Array>,
    sessions: SessionService,
    plan: TurnPlan,
    backend: string,
  ) {
    this.#source = source.getReader();
    this.#sessions = sessions;
    this.#plan = plan;
    this.#backend = backend;
  }

  /** Reads the whole stream, then ends the turn (for a non-streamed answer). */
  async drain(): Promise<Ending> {
    for (;;) {
      const next = await this.#next();
      if (next !== undefined) return next;
      this.#pending = [];
    }
  }

  /** The client's SSE body: each event as it came, then the commit, then `[DONE]`. */
  sse(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        // Read on until there is something to send: a pull that enqueues nothing is not repeated.
        let ending = await this.#next();
        while (ending === undefined && this.#pending.length === 0) ending = await this.#next();
        // The events read so far go out as one chunk, as the replica's did, with the ending.
        let out = this.#pending.length > 0 ? `data: ${this.#pending.join("\n\ndata: ")}\n\n` : "";
        this.#pending = [];
        if (ending === undefined) {
          controller.enqueue(encoder.encode(out));
          return;
        }
        if (ending.kind === "committed") {
          if (this.#plan.cancel.signal.aborted) {
            out += `data: ${JSON.stringify(this.#cancelChunk())}\n\n`;
          }
          out += DONE;
        } else {
          const message = errorMessage(ending.error);
          const code = ending.status === 503 ? "storage_unavailable" : "turn_not_saved";
          out += errorEvent(message, { code });
        }
        controller.enqueue(encoder.encode(out));
        controller.close();
      },
      cancel: async () => {
        await this.#source.cancel().catch(() => {});
        await this.#end("client");
      },
    }, { highWaterMark: 0 });
  }

  /** Reads one chunk; an Ending once the turn is over (committed or not). */
  async #next(): Promise<Ending | undefined> {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await this.#source.read();
    } catch {
      return await this.#end(this.#plan.cancel.signal.aborted ? "cancelled" : "client");
    }
    if (!chunk.done) {
      this.#parser.feed(this.#decoder.decode(chunk.value, { stream: true }));
      return undefined;
    }
    this.#parser.feed("\n\n");
    if (this.#plan.cancel.signal.aborted) return await this.#end("cancelled");
    if (
      this.assembled.error !== undefined || (!this.#done && this.assembled.finishReason === null)
    ) {
      return await this.#end("failed");
    }
    return await this.#end("completed");
  }

  #ended: Promise<Ending> | undefined;

  #end(how: "completed" | "cancelled" | "failed" | "client"): Promise<Ending> {
    this.#ended ??= (async (): Promise<Ending> => {
      if (how === "failed" || how === "client") {
        await this.#sessions.abandon(this.#plan);
        return {
          kind: "failed",
          status: 502,
          error: {
            error: {
              message: this.assembled.error ??
                "The backend's stream ended before the reply was complete; the turn was not saved, send it again",
              type: "api_error",
              param: null,
              code: "upstream_error",
            },
          },
        };
      }
      const outcome: TurnOutcome = how === "cancelled"
        ? cancelledOutcome(this.assembled, this.#backend, this.#plan)
        : {
          status: "completed",
          output: this.assembled.message(true),
          finishReason: this.assembled.finishReason,
          usage: this.assembled.usage,
          backend: this.#backend,
        };
      const result = await this.#sessions.commit(this.#plan, outcome).catch((error) => ({
        ok: false as const,
        message: errorMessage(error),
      }));
      if (result.ok) return { kind: "committed" };
      // A store that refuses writes (disk full, read-only) is the server's state, not a bug.
      const storage = isStorageFailure(result.message);
      return {
        kind: "failed",
        status: storage ? 503 : 500,
        error: {
          error: {
            message: storage
              ? `The turn was not saved: the gateway's state store cannot take writes right now (${result.message}); send the turn again later`
              : result.message,
            type: storage ? "server_error" : "api_error",
            param: null,
            code: storage ? "storage_unavailable" : "turn_not_saved",
          },
        },
      };
    })();
    return this.#ended;
  }

  #cancelChunk(): Record<string, unknown> {
    const a = this.assembled;
    return {
      id: a.id,
      object: "chat.completion.chunk",
      created: a.created,
      model: a.model,
      choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: "cancelled" }],
    };
  }
}

/**
 * A replica's refusal in OpenAI's error shape: vLLM answers `{"error": {"type": "BadRequestError",
 * "code": 400, ...}}`, which an OpenAI client reads, but whose type and code are not OpenAI's.
 */
async function openAIShaped(response: Response): Promise<Response> {
  const text = await response.text();
  let inner: Record<string, unknown> = {};
  try {
    const body: unknown = JSON.parse(text);
    if (isRecord(body) && isRecord(body.error)) inner = body.error;
    else if (isRecord(body) && typeof body.message === "string") inner = body;
  } catch {
    // Not JSON: its text is the message.
  }
  const message = typeof inner.message === "string" && inner.message !== ""
    ? inner.message
    : text || `The backend refused the turn with HTTP ${response.status}`;
  const headers = new Headers(response.headers);
  headers.delete("content-length");
  return errorResponse(response.status, message, {
    param: typeof inner.param === "string" ? inner.param : null,
    code: typeof inner.code === "string" ? inner.code : "backend_rejected",
    headers: Object.fromEntries(headers),
  });
}

function errorMessage(error: unknown): string {
  if (typeof error === "object" && error !== null && "error" in error) {
    const inner = (error as { error: { message?: unknown } }).error;
    if (typeof inner?.message === "string") return inner.message;
  }
  return error instanceof Error ? error.message : String(error);
}

/** TurnpikeSessions: typed calls of turnpike's `/v1/sessions` API for TypeScript agents. */
import type OpenAI from "openai";
import { TurnpikeConversations } from "./conversations.ts";
import { type GatewayClientOptions, GatewayHttp, TurnpikeError } from "./http.ts";
import type {
  Session,
  SessionCancelled,
  SessionCreateParams,
  SessionDeleted,
  SessionHistoryPage,
  SessionHistoryQuery,
  SessionListQuery,
  SessionPage,
  SessionTurn,
  SessionTurnParams,
} from "./session_types.ts";

/** Options of one turn. */
export interface TurnOptions {
  /** Aborts the call; a turn aborted mid-stream is not kept (use `cancel` to keep its partial reply). */
  signal?: AbortSignal;
}

/** The extension of `POST /v1/sessions/:id/extend`. */
export interface ExtendOptions {
  /** The new time to live from now; the session's own TTL when absent. */
  ttl_seconds?: number;
}

/**
 * A client of turnpike's sessions: the gateway keeps the history, so each turn sends only its new
 * message. Every call that the gateway refuses throws a {@linkcode TurnpikeError}.
 *
 * @example
 * ```ts
 * const sessions = new TurnpikeSessions({ baseURL: "http://127.0.0.1:5800" });
 * const session = await sessions.create({ model: "llama-3.1-8b-sim", system: "Be terse." });
 * const reply = await sessions.turn(session.id, { message: "Plan the fix", max_tokens: 64 });
 * for await (const chunk of await sessions.turnStream(session.id, { message: "Go on" })) {
 *   console.log(chunk.choices[0]?.delta.content ?? "");
 * }
 * for await (const turn of sessions.history(session.id)) console.log(turn.turn, turn.output);
 * ```
 */
export class TurnpikeSessions {
  /** The same sessions in OpenAI's Conversations shapes. */
  readonly conversations: TurnpikeConversations;
  readonly #http: GatewayHttp;

  /** @param options where the gateway is and what every call sends */
  constructor(options: GatewayClientOptions = {}) {
    this.#http = new GatewayHttp(options);
    this.conversations = new TurnpikeConversations(options);
  }

  /** Creates a session. */
  create(params: SessionCreateParams): Promise<Session> {
    return this.#http.json("/v1/sessions", { method: "POST", body: params });
  }

  /** The session `id`. */
  get(id: string): Promise<Session> {
    return this.#http.json(path(id));
  }

  /** One page of sessions matching `query`. */
  listPage(query: SessionListQuery = {}): Promise<SessionPage> {
    return this.#http.json("/v1/sessions", { query: { ...query } });
  }

  /** Every session matching `query`, fetched a page at a time as the iteration goes. */
  list(query: SessionListQuery = {}): AsyncGenerator<Session> {
    return follow((after) => this.listPage(after === undefined ? query : { ...query, after }));
  }

  /** One page of the turns of session `id`, oldest first, with its compactions. */
  historyPage(id: string, query: SessionHistoryQuery = {}): Promise<SessionHistoryPage> {
    return this.#http.json(`${path(id)}/history`, { query: { ...query } });
  }

  /** Every turn of session `id`, oldest first, fetched a page at a time as the iteration goes. */
  history(id: string, query: SessionHistoryQuery = {}): AsyncGenerator<SessionTurn> {
    return follow((after) =>
      this.historyPage(id, after === undefined ? query : { ...query, after })
    );
  }

  /** Pushes the expiry of session `id` to now plus its TTL (or `options.ttl_seconds`). */
  extend(id: string, options: ExtendOptions = {}): Promise<Session> {
    return this.#http.json(`${path(id)}/extend`, { method: "POST", body: options });
  }

  /** Deletes session `id` and its turns; a turn in flight is cancelled first. */
  delete(id: string): Promise<SessionDeleted> {
    return this.#http.json(path(id), { method: "DELETE" });
  }

  /** Cancels the turn in flight of session `id`; its partial reply is kept as a cancelled turn. */
  cancel(id: string): Promise<SessionCancelled> {
    return this.#http.json(`${path(id)}/cancel`, { method: "POST" });
  }

  /** Takes one turn and answers its whole reply, once the gateway has committed it. */
  async turn(
    id: string,
    params: SessionTurnParams,
    options: TurnOptions = {},
  ): Promise<OpenAI.Chat.ChatCompletion> {
    try {
      return await this.#http.openai(path(id)).chat.completions.create(
        { ...params, stream: false } as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming,
        options,
      );
    } catch (error) {
      throw TurnpikeError.fromOpenAI(error);
    }
  }

  /**
   * Takes one turn and streams its reply as `chat.completion.chunk`s; the stream ends after the
   * gateway committed the turn. A cancelled turn's last chunk has `finish_reason: "cancelled"`.
   * A refusal throws here, a failure mid-stream throws from the iteration (status 502).
   */
  async turnStream(
    id: string,
    params: SessionTurnParams,
    options: TurnOptions = {},
  ): Promise<AsyncGenerator<OpenAI.Chat.ChatCompletionChunk>> {
    let stream: AsyncIterable<OpenAI.Chat.ChatCompletionChunk>;
    try {
      stream = await this.#http.openai(path(id)).chat.completions.create(
        { ...params, stream: true } as OpenAI.Chat.ChatCompletionCreateParamsStreaming,
        options,
      );
    } catch (error) {
      throw TurnpikeError.fromOpenAI(error);
    }
    return chunks(stream);
  }
}

function path(id: string): string {
  return `/v1/sessions/${encodeURIComponent(id)}`;
}

async function* chunks(
  stream: AsyncIterable<OpenAI.Chat.ChatCompletionChunk>,
): AsyncGenerator<OpenAI.Chat.ChatCompletionChunk> {
  try {
    yield* stream;
  } catch (error) {
    throw TurnpikeError.fromOpenAI(error);
  }
}

/** A page with a cursor to the next, as the sessions API answers lists. */
interface CursorPage<T> {
  data: T[];
  has_more: boolean;
  next_cursor: string | null;
}

/** Every item of every page, fetching the next page when the iteration reaches it. */
async function* follow<T>(
  page: (after: string | undefined) => Promise<CursorPage<T>>,
): AsyncGenerator<T> {
  let after: string | undefined;
  for (;;) {
    const current = await page(after);
    yield* current.data;
    if (!current.has_more || current.next_cursor === null) return;
    after = current.next_cursor;
  }
}

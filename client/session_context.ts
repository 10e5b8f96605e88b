/** SessionContext: the headers an agent sends with each turn so turnpike can keep a session together and see the agent's own time. */

/** Header names; the defaults match turnpike's `headers:` config defaults. */
export interface SessionHeaderNames {
  session: string;
  task: string;
  client: string;
  timingPre: string;
  timingPost: string;
}

/** The default header names (`X-Session-ID`, `X-Task-ID`, `X-Client-ID`, `X-Timing-Pre-Ms`, `X-Timing-Post-Ms`). */
export const DEFAULT_SESSION_HEADERS: Readonly<SessionHeaderNames> = {
  session: "X-Session-ID",
  task: "X-Task-ID",
  client: "X-Client-ID",
  timingPre: "X-Timing-Pre-Ms",
  timingPost: "X-Timing-Post-Ms",
};

/** Options of {@linkcode SessionContext}. */
export interface SessionContextOptions {
  /** The session id; a random UUID when absent. */
  sessionId?: string;
  /** The task the session works on. */
  taskId?: string;
  /** Who the agent is (a name or a tenant). */
  clientId?: string;
  /** Header names, when the gateway's config renames them. */
  headerNames?: Partial<SessionHeaderNames>;
}

/** The agent's own time around one model call, in ms. */
export interface SessionTiming {
  /** Time the agent spent before the call (tool runs, prompt building). */
  preMs?: number;
  /** Time the agent spent after the previous call's answer (parsing, acting on it). */
  postMs?: number;
}

/**
 * One agent conversation's identity and timing, as request headers.
 *
 * The object returned by {@linkcode SessionContext.headers} is live: it always holds the latest
 * timing, so it can be handed once to the OpenAI client as `defaultHeaders`.
 *
 * @example
 * ```ts
 * const ctx = new SessionContext({ taskId: "fix-bug-42" });
 * const client = new OpenAI({ baseURL: "http://127.0.0.1:5800/v1", apiKey: "none", defaultHeaders: ctx.headers() });
 * ctx.setTiming({ preMs: 120 });
 * await client.chat.completions.create({ model, messages });
 * ```
 */
export class SessionContext {
  /** The session id sent with every request. */
  readonly sessionId: string;
  /** The task id, if any. */
  readonly taskId: string | undefined;
  /** The client id, if any. */
  readonly clientId: string | undefined;
  #names: SessionHeaderNames;
  #headers: Record<string, string> = {};

  /** @param options ids and header names */
  constructor(options: SessionContextOptions = {}) {
    this.sessionId = options.sessionId ?? crypto.randomUUID();
    this.taskId = options.taskId;
    this.clientId = options.clientId;
    this.#names = { ...DEFAULT_SESSION_HEADERS, ...options.headerNames };
    this.#headers[this.#names.session] = this.sessionId;
    if (this.taskId !== undefined) this.#headers[this.#names.task] = this.taskId;
    if (this.clientId !== undefined) this.#headers[this.#names.client] = this.clientId;
  }

  /** Sets the agent's time around the next call; a field left out is cleared. */
  setTiming(timing: SessionTiming): void {
    this.#set(this.#names.timingPre, timing.preMs);
    this.#set(this.#names.timingPost, timing.postMs);
  }

  /**
   * The headers to send: one live object, updated in place by {@linkcode setTiming}, so it works
   * as the client's `defaultHeaders` and per request (`{ headers: ctx.headers() }`).
   */
  headers(): Record<string, string> {
    return this.#headers;
  }

  #set(name: string, ms: number | undefined): void {
    if (ms === undefined || !Number.isFinite(ms) || ms < 0) delete this.#headers[name];
    else this.#headers[name] = String(Math.round(ms * 1000) / 1000);
  }
}

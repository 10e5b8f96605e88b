/** The fetch layer of turnpike's client helpers: JSON calls to the gateway and the typed error they throw. */
import OpenAI from "openai";

/** The body of every gateway error: `{"error": {message, type, param, code}}`, as OpenAI sends it. */
export interface OpenAIErrorBody {
  error: {
    message: string;
    type: string;
    param: string | null;
    code: string | null;
  };
}

/** A gateway answer that is not a success: its HTTP status and its OpenAI-shaped error body. */
export class TurnpikeError extends Error {
  /** The HTTP status (502 for a stream that failed after it started). */
  readonly status: number;
  /** The error body as the gateway sent it. */
  readonly body: OpenAIErrorBody;
  /** Seconds the gateway asked to wait before retrying (`Retry-After`), if it did. */
  readonly retryAfterSeconds: number | undefined;

  /**
   * @param status the HTTP status
   * @param body the OpenAI-shaped error body
   * @param headers the response's headers
   */
  constructor(status: number, body: OpenAIErrorBody, headers?: Headers) {
    super(`${status} ${body.error.message}`);
    this.name = "TurnpikeError";
    this.status = status;
    this.body = body;
    const retryAfter = Number(headers?.get("retry-after") ?? Number.NaN);
    this.retryAfterSeconds = Number.isFinite(retryAfter) ? retryAfter : undefined;
  }

  /** The machine-readable code, e.g. `session_not_found` or `session_busy`. */
  get code(): string | null {
    return this.body.error.code;
  }

  /** OpenAI's error type, e.g. `invalid_request_error`. */
  get type(): string {
    return this.body.error.type;
  }

  /** The request field at fault, if any. */
  get param(): string | null {
    return this.body.error.param;
  }

  /** The error of a failed response; a body that is not an OpenAI error becomes the message. */
  static async fromResponse(response: Response): Promise<TurnpikeError> {
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const body = errorBodyOf(parsed) ?? {
      error: {
        message: text || `The gateway answered HTTP ${response.status} without a body`,
        type: "api_error",
        param: null,
        code: null,
      },
    };
    return new TurnpikeError(response.status, body, response.headers);
  }

  /**
   * The error of an OpenAI SDK call: a TurnpikeError for an API error (one met mid-stream gets
   * status 502), anything else (a connection error, an abort) as it was.
   */
  static fromOpenAI(error: unknown): unknown {
    if (!(error instanceof OpenAI.APIError)) return error;
    const body = errorBodyOf({ error: error.error });
    return body ? new TurnpikeError(error.status ?? 502, body, error.headers) : error;
  }
}

/** `value` as an error body when it has an `error.message`, its other fields filled in. */
function errorBodyOf(value: unknown): OpenAIErrorBody | undefined {
  if (typeof value !== "object" || value === null || !("error" in value)) return undefined;
  const error: unknown = value.error;
  if (typeof error !== "object" || error === null) return undefined;
  const field = (name: string) => {
    const v: unknown = (error as Record<string, unknown>)[name];
    return typeof v === "string" ? v : null;
  };
  const message = field("message");
  if (message === null) return undefined;
  return {
    error: {
      message,
      type: field("type") ?? "api_error",
      param: field("param"),
      code: field("code"),
    },
  };
}

/** How the client helpers reach the gateway. */
export interface GatewayClientOptions {
  /** The gateway's root URL, without `/v1`. @default "http://127.0.0.1:5800" */
  baseURL?: string;
  /** Sent as `Authorization: Bearer ...` when the gateway checks API keys. */
  apiKey?: string;
  /**
   * Headers sent with every call, read again for each one: pass a `SessionContext`'s
   * `headers()` to send its task, client and timing headers.
   */
  headers?: Record<string, string>;
  /** The fetch to use. @default globalThis.fetch */
  fetch?: typeof fetch;
}

/** A query string's values; undefined ones are left out. */
export type QueryValues = Record<string, string | number | undefined>;

/** One call of {@linkcode GatewayHttp.json}. */
export interface JsonCall {
  method?: "GET" | "POST" | "DELETE";
  query?: QueryValues;
  body?: unknown;
  signal?: AbortSignal;
}

/** JSON calls to one gateway, and OpenAI clients for its routes that speak chat completions. */
export class GatewayHttp {
  /** The gateway's root URL, without a trailing slash. */
  readonly baseURL: string;
  readonly #options: GatewayClientOptions;
  readonly #fetch: typeof fetch;

  /** @param options where the gateway is and what every call sends */
  constructor(options: GatewayClientOptions = {}) {
    this.baseURL = (options.baseURL ?? "http://127.0.0.1:5800").replace(/\/+$/, "");
    this.#options = options;
    this.#fetch = options.fetch ?? globalThis.fetch;
  }

  /** Calls `path` and parses its JSON answer; a non-2xx answer throws a {@linkcode TurnpikeError}. */
  async json<T>(path: string, call: JsonCall = {}): Promise<T> {
    const url = new URL(`${this.baseURL}${path}`);
    for (const [key, value] of Object.entries(call.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers = new Headers(this.#options.headers);
    if (this.#options.apiKey !== undefined) {
      headers.set("authorization", `Bearer ${this.#options.apiKey}`);
    }
    if (call.body !== undefined) headers.set("content-type", "application/json");
    const response = await this.#fetch(url, {
      method: call.method ?? "GET",
      headers,
      ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
      ...(call.signal === undefined ? {} : { signal: call.signal }),
    });
    if (!response.ok) throw await TurnpikeError.fromResponse(response);
    return await response.json() as T;
  }

  /** An OpenAI client whose base URL is `path` (so `chat.completions` posts to `path/chat/completions`). */
  openai(path: string): OpenAI {
    return new OpenAI({
      baseURL: `${this.baseURL}${path}`,
      apiKey: this.#options.apiKey ?? "unused",
      maxRetries: 0,
      fetch: this.#fetch,
      // Copied now: each call makes its client, so a live headers object's latest timing goes out.
      defaultHeaders: { ...this.#options.headers },
    });
  }
}

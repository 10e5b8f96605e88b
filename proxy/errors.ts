/** OpenAI-shaped error bodies and responses: every error the gateway sends goes through here. */

/** The body of every error response: `{"error": {message, type, param, code}}`. */
export interface OpenAIErrorBody {
  error: {
    message: string;
    type: string;
    param: string | null;
    code: string | null;
  };
}

/** What {@linkcode errorBody} and {@linkcode errorResponse} need besides the message. */
export interface ErrorOptions {
  /** OpenAI's error `type`, e.g. `invalid_request_error`. */
  type?: string;
  /** The request field at fault, if any. */
  param?: string | null;
  /** A machine-readable code, e.g. `model_not_found`. */
  code?: string | null;
  /** Extra response headers (Retry-After, X-Request-ID). */
  headers?: Record<string, string>;
}

/** The error `type` OpenAI uses for each status the gateway answers with. */
export function errorTypeFor(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "invalid_request_error";
  if (status === 429) return "rate_limit_error";
  if (status >= 400 && status < 500) return "invalid_request_error";
  if (status === 503) return "service_unavailable";
  if (status === 504) return "timeout";
  return "api_error";
}

/** Builds the OpenAI error body for `status` and `message`. */
export function errorBody(
  status: number,
  message: string,
  options: ErrorOptions = {},
): OpenAIErrorBody {
  return {
    error: {
      message,
      type: options.type ?? errorTypeFor(status),
      param: options.param ?? null,
      code: options.code ?? null,
    },
  };
}

/** A JSON error response in OpenAI's shape. */
export function errorResponse(
  status: number,
  message: string,
  options: ErrorOptions = {},
): Response {
  const headers = new Headers(options.headers);
  headers.set("content-type", "application/json");
  return new Response(JSON.stringify(errorBody(status, message, options)), { status, headers });
}

/** One SSE event carrying an OpenAI-shaped error, used to end a stream that failed after its first byte. */
export function errorEvent(message: string, options: ErrorOptions = {}): string {
  return `data: ${JSON.stringify(errorBody(502, message, { type: "api_error", ...options }))}\n\n`;
}

/** The message of a 404 `model_not_found`. */
export function modelNotFoundMessage(model: string): string {
  return `The model "${model}" does not exist; GET /v1/models lists the served ones`;
}

/** The 404 `model_not_found` answer to a request for `model`. */
export function modelNotFound(model: string): Response {
  return errorResponse(404, modelNotFoundMessage(model), {
    param: "model",
    code: "model_not_found",
  });
}

/** Reads a JSON request body and validates it, answering a client's mistake with an OpenAI-shaped 400. */
import type { z } from "zod";
import { errorResponse } from "./errors.ts";
import { bodyLimitsOf, readJsonBody } from "./guards/body.ts";

/** A parsed body, or the error response to send. */
export type JsonBody<T> = { ok: true; value: T } | { ok: false; response: Response };

/**
 * The body of `request` as JSON (an empty body is `{}` when `emptyIsObject`), within the size cap
 * and deadline the guards middleware attached to it: 413 when larger, 408 when it trickles, 400
 * when it is not UTF-8 JSON or nests too deep.
 */
export async function jsonBody(
  request: Request,
  options: { emptyIsObject?: boolean } = {},
): Promise<JsonBody<unknown>> {
  const read = await readJsonBody(request, bodyLimitsOf(request), options);
  if (read.ok) return { ok: true, value: read.json };
  return {
    ok: false,
    response: errorResponse(read.status, read.message, {
      code: read.code,
      param: read.param,
      ...(read.status === 408 ? { headers: { connection: "close" } } : {}),
    }),
  };
}

/** The body of `request` parsed with `schema`; the first issue names its field in the 400. */
export async function parseJsonBody<T>(
  request: Request,
  schema: z.ZodType<T>,
  options: { emptyIsObject?: boolean } = {},
): Promise<JsonBody<T>> {
  const body = await jsonBody(request, options);
  if (!body.ok) return body;
  return parseValue(body.value, schema);
}

/** The first issue of a failed parse: the field at fault (dotted), its message, and whether it is unknown. */
export function firstIssue(
  error: z.ZodError,
): { param: string | null; message: string; unknown: boolean } {
  const issue = error.issues[0];
  // An unknown field's issue sits on its object: the field itself is the one at fault.
  const unknown = issue?.code === "unrecognized_keys" && issue.keys[0] !== undefined;
  const path = unknown ? [...issue.path, issue.keys[0]!] : issue?.path ?? [];
  return {
    param: path.length > 0 ? path.join(".") : null,
    message: issue?.message ?? "invalid",
    unknown,
  };
}

/** `value` parsed with `schema`, or a 400 naming the first field at fault. */
export function parseValue<T>(value: unknown, schema: z.ZodType<T>): JsonBody<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return { ok: true, value: parsed.data };
  const { param, message } = firstIssue(parsed.error);
  const what = param ? `"${param}": ${message}` : message;
  return {
    ok: false,
    response: errorResponse(400, `Invalid request at ${what}; fix it and retry`, {
      code: "invalid_request",
      param,
    }),
  };
}

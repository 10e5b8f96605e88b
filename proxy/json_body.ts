/** Reads a JSON request body and validates it, answering a client's mistake with an OpenAI-shaped 400. */
import type { z } from "zod";
import { errorResponse } from "./errors.ts";

/** A parsed body, or the 400 to send. */
export type JsonBody<T> = { ok: true; value: T } | { ok: false; response: Response };

/** The body of `request` as JSON (an empty body is `{}` when `emptyIsObject`). */
export async function jsonBody(
  request: Request,
  options: { emptyIsObject?: boolean } = {},
): Promise<JsonBody<unknown>> {
  let text: string;
  try {
    text = await request.text();
  } catch {
    return bad("Could not read the request body; send it again", "unreadable_body", null);
  }
  if (text.trim() === "" && options.emptyIsObject) return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return bad("Request body is not valid JSON; send a JSON object", "invalid_json", null);
  }
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
  return bad(`Invalid request at ${what}; fix it and retry`, "invalid_request", param);
}

function bad(message: string, code: string, param: string | null): JsonBody<never> {
  return { ok: false, response: errorResponse(400, message, { code, param }) };
}

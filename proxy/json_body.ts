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

/** `value` parsed with `schema`, or a 400 naming the first field at fault. */
export function parseValue<T>(value: unknown, schema: z.ZodType<T>): JsonBody<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issue = parsed.error.issues[0];
  // An unknown field's issue sits on its object: the field itself is the one at fault.
  const path = issue?.code === "unrecognized_keys" && issue.keys[0] !== undefined
    ? [...issue.path, issue.keys[0]]
    : issue?.path ?? [];
  const param = path.length > 0 ? path.join(".") : null;
  const what = param ? `"${param}": ${issue?.message ?? "invalid"}` : issue?.message ?? "invalid";
  return bad(`Invalid request at ${what}; fix it and retry`, "invalid_request", param);
}

function bad(message: string, code: string, param: string | null): JsonBody<never> {
  return { ok: false, response: errorResponse(400, message, { code, param }) };
}

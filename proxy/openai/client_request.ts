/** Turns a client's OpenAI request into a routed body: size cap, JSON, then the endpoint's schema. */
import type { z } from "zod";
import { concatBytes } from "../upstream/mod.ts";
import type { RoutedBody } from "./schemas.ts";

/** A parsed request, or why it was refused (in OpenAI's error terms). */
export type ClientRequest =
  | { ok: true; bytes: Uint8Array<ArrayBuffer>; json: unknown; body: RoutedBody }
  | { ok: false; status: 400 | 413; message: string; code: string; param: string | null };

/** Options of {@linkcode parseClientRequest}. */
export interface ParseClientRequestOptions {
  /** Larger bodies are refused with 413. */
  maxBytes: number;
  /** The endpoint's body schema. */
  schema: z.ZodType<RoutedBody>;
}

const decoder = new TextDecoder();

/** Reads and validates `request`'s body; the original bytes are kept to forward unchanged. */
export async function parseClientRequest(
  request: Request,
  options: ParseClientRequestOptions,
): Promise<ClientRequest> {
  let bytes: Uint8Array<ArrayBuffer> | undefined;
  try {
    bytes = await readBody(request, options.maxBytes);
  } catch {
    return refused(400, "Could not read the request body; send it again", "unreadable_body");
  }
  if (bytes === undefined) {
    return refused(
      413,
      `Request body is larger than ${options.maxBytes} bytes; send a smaller one`,
      "request_too_large",
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(bytes));
  } catch {
    return refused(400, "Request body is not valid JSON; send a JSON object", "invalid_json");
  }
  const parsed = options.schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const param = issue && issue.path.length > 0 ? issue.path.join(".") : null;
    const what = param
      ? `"${param}": ${issue?.message ?? "invalid"}`
      : issue?.message ?? "invalid body";
    return refused(
      400,
      `Invalid request body at ${what}; fix the field and retry`,
      "invalid_request",
      param,
    );
  }
  return { ok: true, bytes, json, body: parsed.data };
}

function refused(
  status: 400 | 413,
  message: string,
  code: string,
  param: string | null = null,
): ClientRequest {
  return { ok: false, status, message, code, param };
}

/** Reads `request`'s body of at most `maxBytes`; undefined when it is larger. */
export async function readBody(
  request: Request,
  maxBytes: number,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) return undefined;
  if (!request.body) return new Uint8Array(0);
  if (declared !== null) {
    const bytes = new Uint8Array(await request.arrayBuffer());
    return bytes.byteLength > maxBytes ? undefined : bytes;
  }
  const reader = request.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      return undefined;
    }
    parts.push(value);
  }
  return concatBytes(parts, size);
}

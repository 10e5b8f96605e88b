/** Turns a client's OpenAI request into a routed body: size cap and deadline, strict UTF-8 JSON, then the endpoint's schema. */
import type { z } from "zod";
import { bodyLimitsOf, type BodyRefusal, readJsonBody } from "../guards/body.ts";
import { bodyIssue, type RoutedBody } from "./schemas.ts";

/** A parsed request, or why it was refused (in OpenAI's error terms). */
export type ClientRequest =
  | { ok: true; bytes: Uint8Array<ArrayBuffer>; json: unknown; body: RoutedBody }
  | BodyRefusal;

/** Options of {@linkcode parseClientRequest}. */
export interface ParseClientRequestOptions {
  /** Larger bodies are refused with 413. */
  maxBytes: number;
  /**
   * Ms the body may take to arrive (408 past it).
   * @default the limit the guards middleware attached to the request, else 30 s
   */
  timeoutMs?: number;
  /** The endpoint's body schema. */
  schema: z.ZodType<RoutedBody>;
  /**
   * A hand check of bodies `schema` accepts (true only for those): a body it passes skips the
   * schema; one it does not goes to the schema, which accepts or refuses it.
   */
  accepts?: (json: unknown) => json is RoutedBody;
}

/** Reads and validates `request`'s body; the original bytes are kept to forward unchanged. */
export async function parseClientRequest(
  request: Request,
  options: ParseClientRequestOptions,
): Promise<ClientRequest> {
  const attached = bodyLimitsOf(request);
  const read = await readJsonBody(request, {
    ...attached,
    maxBytes: options.maxBytes,
    timeoutMs: options.timeoutMs ?? attached.timeoutMs,
  });
  if (!read.ok) return read;
  if (options.accepts?.(read.json)) {
    return { ok: true, bytes: read.bytes, json: read.json, body: read.json };
  }
  const parsed = options.schema.safeParse(read.json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const { param, message } = first ? bodyIssue(first) : { param: null, message: "invalid body" };
    const what = param ? `"${param}": ${message}` : message;
    return {
      ok: false,
      status: 400,
      message: `Invalid request body at ${what}; fix the field and retry`,
      code: "invalid_request",
      param,
    };
  }
  return { ok: true, bytes: read.bytes, json: read.json, body: parsed.data };
}

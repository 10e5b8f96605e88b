/** The first middleware of the gateway's app: refuses oversized heads, and bounds every body's read. */
import type { MiddlewareHandler } from "hono";
import type { ProxyConfig } from "../../config/mod.ts";
import { errorResponse } from "../errors.ts";
import { type BodyLimits, setBodyLimits } from "./body.ts";
import { type HeadLimits, headProblem } from "./head.ts";
import type { Deadlines } from "../openai/deadlines.ts";

/**
 * The longest path segment, as sent, an `/api/` id may be. The admin stores key their records by
 * id in KV, whose keys hold at most 2 KiB: a longer id could name nothing, and would fail the read.
 */
export const MAX_ADMIN_ID_CHARS = 1024;

/** The `proxy:` settings {@linkcode requestGuards} reads. */
export type GuardsConfig = Pick<
  ProxyConfig,
  "max_header_count" | "max_header_bytes" | "max_body_bytes" | "body_timeout"
>;

/** Options of {@linkcode requestGuards}. */
export interface RequestGuardsOptions {
  /** The shared timer bodies' deadlines are kept on (see {@linkcode BodyLimits.deadlines}). */
  deadlines?: Pick<Deadlines, "add" | "remove">;
}

/**
 * Answers 431 to a head past `proxy.max_header_count` or `proxy.max_header_bytes` and 404 to an
 * `/api/` id longer than {@linkcode MAX_ADMIN_ID_CHARS}; every other request carries its body
 * bounds (size, `proxy.body_timeout`) on to the routes' readers, which answer 413 to a body
 * declared or counted past `proxy.max_body_bytes` (the hot path records it like any refusal).
 */
export function requestGuards(
  config: GuardsConfig,
  options: RequestGuardsOptions = {},
): MiddlewareHandler {
  const head: HeadLimits = {
    maxHeaderCount: config.max_header_count,
    maxHeaderBytes: config.max_header_bytes,
  };
  const body: BodyLimits = {
    maxBytes: config.max_body_bytes,
    timeoutMs: config.body_timeout * 1000,
    ...(options.deadlines ? { deadlines: options.deadlines } : {}),
  };
  return async function guards(c, next) {
    const request = c.req.raw;
    const tooBig = headProblem(request.headers, head);
    if (tooBig !== undefined) {
      return errorResponse(431, tooBig, {
        code: "request_header_fields_too_large",
        headers: { connection: "close" },
      });
    }
    const path = c.req.path;
    if (
      path.startsWith("/api/") && request.url.length > MAX_ADMIN_ID_CHARS && hasLongSegment(path)
    ) {
      return errorResponse(
        404,
        `No resource has an id of more than ${MAX_ADMIN_ID_CHARS} characters; GET its list to find it`,
        { code: "not_found" },
      );
    }
    setBodyLimits(request, body);
    await next();
  };
}

function hasLongSegment(path: string): boolean {
  let start = 0;
  for (;;) {
    const end = path.indexOf("/", start);
    if ((end === -1 ? path.length : end) - start > MAX_ADMIN_ID_CHARS) return true;
    if (end === -1) return false;
    start = end + 1;
  }
}

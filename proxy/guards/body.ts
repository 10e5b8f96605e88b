/** Reads a client's JSON body under a size cap and a deadline, as strict UTF-8, with bounded nesting. */
import { concatBytes } from "../upstream/mod.ts";
import type { Deadlines } from "../openai/deadlines.ts";

/** The deepest nesting of arrays and objects a body may have (a deeper one is refused with 400). */
export const MAX_JSON_DEPTH = 64;

/** How a request's body is bounded. */
export interface BodyLimits {
  /** Larger bodies are refused with 413. */
  maxBytes: number;
  /** Ms the whole body may take to arrive; past it the request is refused with 408. */
  timeoutMs: number;
  /**
   * The shared timer the deadline is kept on (the gateway's request deadlines): a `setTimeout`
   * per body, Node's timer object under Deno, costs several times more on the hot path.
   * @default a `setTimeout` of its own
   */
  deadlines?: Pick<Deadlines, "add" | "remove">;
}

/** Bounds used when no {@linkcode setBodyLimits} call set a request's: `proxy:`'s defaults. */
export const DEFAULT_BODY_LIMITS: BodyLimits = { maxBytes: 32 * 1024 * 1024, timeoutMs: 30_000 };

const limits = new WeakMap<Request, BodyLimits>();

/** Attaches the gateway's body bounds to `request` (the guards middleware does, for every route). */
export function setBodyLimits(request: Request, bounds: BodyLimits): void {
  limits.set(request, bounds);
}

/** The body bounds attached to `request`, or the defaults. */
export function bodyLimitsOf(request: Request): BodyLimits {
  return limits.get(request) ?? DEFAULT_BODY_LIMITS;
}

/** Why a body was refused, in OpenAI's error terms. */
export interface BodyRefusal {
  ok: false;
  status: 400 | 408 | 413;
  message: string;
  code: string;
  param: string | null;
}

/** A body's bytes, or why they were refused. */
export type BodyBytes = { ok: true; bytes: Uint8Array<ArrayBuffer> } | BodyRefusal;

/** A body parsed as JSON (with its bytes, to forward unchanged), or why it was refused. */
export type BodyJson = { ok: true; bytes: Uint8Array<ArrayBuffer>; json: unknown } | BodyRefusal;

/** A refusal of a body: `status`, the sentence for the client and its code. */
export function bodyRefusal(
  status: 400 | 408 | 413,
  message: string,
  code: string,
  param: string | null = null,
): BodyRefusal {
  return { ok: false, status, message, code, param };
}

function tooLarge(maxBytes: number): BodyRefusal {
  return bodyRefusal(
    413,
    `Request body is larger than ${maxBytes} bytes; send a smaller one`,
    "request_too_large",
  );
}

/**
 * Reads `request`'s body within `bounds`: a declared or counted size over `maxBytes` is a 413, a
 * body still arriving after `timeoutMs` a 408 (its stream is cancelled, so the connection is
 * dropped rather than held by a client that trickles it).
 */
export async function readBodyBytes(request: Request, bounds: BodyLimits): Promise<BodyBytes> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > bounds.maxBytes) return tooLarge(bounds.maxBytes);
  if (!request.body) return { ok: true, bytes: new Uint8Array(0) };
  let reader: ReadableStreamDefaultReader<Uint8Array>;
  try {
    reader = request.body.getReader();
  } catch {
    return bodyRefusal(400, "Could not read the request body; send it again", "unreadable_body");
  }
  let timedOut = false;
  const onTimeout = () => {
    timedOut = true;
    reader.cancel().catch(() => {});
  };
  const { deadlines } = bounds;
  const deadline = deadlines?.add(bounds.timeoutMs, onTimeout);
  const timer = deadlines === undefined ? setTimeout(onTimeout, bounds.timeoutMs) : undefined;
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (timedOut) break;
      if (done) break;
      size += value.byteLength;
      if (size > bounds.maxBytes) {
        await reader.cancel().catch(() => {});
        return tooLarge(bounds.maxBytes);
      }
      parts.push(value);
    }
  } catch {
    if (!timedOut) {
      return bodyRefusal(400, "Could not read the request body; send it again", "unreadable_body");
    }
  } finally {
    if (deadline !== undefined) deadlines!.remove(deadline);
    clearTimeout(timer);
  }
  if (timedOut) {
    return bodyRefusal(
      408,
      `The request body did not arrive within ${bounds.timeoutMs / 1000} s; send it at once`,
      "body_timeout",
    );
  }
  // A body that came in one piece (the usual case) is that piece, not a copy of it.
  const bytes = parts.length === 1 ? parts[0] as Uint8Array<ArrayBuffer> : concatBytes(parts, size);
  return { ok: true, bytes };
}

const loose = new TextDecoder();
const strict = new TextDecoder("utf-8", { fatal: true });

/**
 * `bytes` as text, or undefined when they are not valid UTF-8. The lenient decoder is several
 * times faster here; only a text holding U+FFFD (an invalid sequence, or a client's own U+FFFD)
 * is decoded again strictly to tell the two apart.
 */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  const text = loose.decode(bytes);
  if (!text.includes("\uFFFD")) return text;
  try {
    return strict.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Whether `value` nests arrays and objects deeper than `maxDepth`; walks containers only. */
export function nestsDeeperThan(value: unknown, maxDepth: number): boolean {
  if (typeof value !== "object" || value === null) return false;
  const stack: unknown[] = [value];
  const depths: number[] = [1];
  while (stack.length > 0) {
    const node = stack.pop() as object;
    const depth = depths.pop()!;
    if (depth > maxDepth) return true;
    const children = Array.isArray(node) ? node : Object.values(node);
    for (const child of children) {
      if (typeof child === "object" && child !== null) {
        stack.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}

/** Options of {@linkcode parseJsonBytes}. */
export interface ParseJsonBytesOptions {
  /** An empty body parses as `{}`. @default false */
  emptyIsObject?: boolean;
}

/** `bytes` parsed as JSON: strict UTF-8, at most {@linkcode MAX_JSON_DEPTH} deep. */
export function parseJsonBytes(
  bytes: Uint8Array<ArrayBuffer>,
  options: ParseJsonBytesOptions = {},
): BodyJson {
  const text = decodeUtf8(bytes);
  if (text === undefined) {
    return bodyRefusal(
      400,
      "Request body is not valid UTF-8; send JSON encoded as UTF-8",
      "invalid_encoding",
    );
  }
  if (options.emptyIsObject && text.trim() === "") return { ok: true, bytes, json: {} };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return bodyRefusal(400, "Request body is not valid JSON; send a JSON object", "invalid_json");
  }
  if (nestsDeeperThan(json, MAX_JSON_DEPTH)) {
    return bodyRefusal(
      400,
      `Request body nests arrays and objects more than ${MAX_JSON_DEPTH} deep; flatten it`,
      "nesting_too_deep",
    );
  }
  return { ok: true, bytes, json };
}

/** Reads `request`'s body within `bounds` and parses it with {@linkcode parseJsonBytes}. */
export async function readJsonBody(
  request: Request,
  bounds: BodyLimits,
  options: ParseJsonBytesOptions = {},
): Promise<BodyJson> {
  const read = await readBodyBytes(request, bounds);
  if (!read.ok) return read;
  return parseJsonBytes(read.bytes, options);
}

/** Parses an HTTP/1.x response head (status line and header fields) and decides how its body is framed. */
import { UpstreamError } from "./errors.ts";

/** How a response body is delimited. */
export type BodyFraming = "none" | "length" | "chunked" | "close";

/** A parsed response head. */
export interface ResponseHead {
  /** The status code. */
  status: number;
  /** End-to-end header pairs (lower-case names): no hop-by-hop ones, none named in `Connection`. */
  headers: [string, string][];
  /** The Content-Type header's value, if any. */
  contentType: string | undefined;
  /** The declared Content-Length, if any; undefined whenever a Transfer-Encoding overrides it. */
  contentLength: number | undefined;
  /** How the body is delimited, before the request method and status are considered. */
  framing: "length" | "chunked" | "close";
  /** Whether the connection may carry another request after this response. */
  keepAlive: boolean;
}

/** Response headers that describe the connection, not the answer: never relayed. */
const HOP_BY_HOP_RESPONSE: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-length",
  "proxy-connection",
  "upgrade",
  "te",
  "trailer",
]);

const CR = 13;
const LF = 10;
const DIGITS = /^\d+$/;

/** The index just past the blank line ending a head in `buf[from..to)`, or -1 when it has not arrived. */
export function headEnd(buf: Uint8Array, from: number, to: number): number {
  for (let i = Math.max(from + 3, 3); i < to; i++) {
    if (buf[i] === LF && buf[i - 1] === CR && buf[i - 2] === LF && buf[i - 3] === CR) return i + 1;
  }
  return -1;
}

/** The lower-case, non-empty elements of a comma-separated header list (RFC 9110 section 5.6.1). */
function listElements(value: string): string[] {
  return value.toLowerCase().split(",").map((t) => t.trim()).filter((t) => t !== "");
}

/**
 * The end-to-end pairs of `pairs` (lower-case names): without hop-by-hop headers and without those
 * the `Connection` header names (RFC 9110 section 7.6.1).
 */
export function endToEndHeaders(pairs: Iterable<[string, string]>): [string, string][] {
  const all = [...pairs];
  const named = new Set<string>();
  for (const [name, value] of all) {
    if (name === "connection") { for (const token of listElements(value)) named.add(token); }
  }
  return all.filter(([name]) => !HOP_BY_HOP_RESPONSE.has(name) && !named.has(name));
}

/** A header name: an RFC 9110 token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A status code: three digits. */
const STATUS_CODE = /^\d{3}$/;

/** Whether `value` holds a control character other than tab, which no header value may carry. */
function hasControl(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09) || code === 0x7f) return true;
  }
  return false;
}

/** Splits header lines into pairs; an obsolete folded line continues the previous value (RFC 9112 section 5.2). */
function fields(lines: string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const last = pairs[pairs.length - 1];
    if (line[0] === " " || line[0] === "\t") {
      if (!last) throw new UpstreamError("protocol", "Upstream sent a folded first header line");
      last[1] = `${last[1]} ${line.trim()}`.trim();
      continue;
    }
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon) : "";
    const value = line.slice(colon + 1).trim();
    // A name must be a token with no space before the colon (RFC 9112 section 5.1), and a value
    // holds no control character but tab: Deno's HTTP writer would refuse, or worse, panic on it.
    if (!TOKEN.test(name) || hasControl(value)) {
      throw new UpstreamError(
        "protocol",
        `Upstream sent a header line that cannot be relayed: ${JSON.stringify(line.slice(0, 40))}`,
      );
    }
    pairs.push([name.toLowerCase(), value]);
  }
  return pairs;
}

/** Parses `text` (a head without its blank line); throws an UpstreamError when it cannot be framed safely. */
export function parseResponseHead(text: string): ResponseHead {
  const lines = text.split("\r\n");
  const statusLine = lines[0] ?? "";
  const code = statusLine.slice(9, 12);
  const status = Number(code);
  if (
    !statusLine.startsWith("HTTP/1.") || statusLine[8] !== " " || !STATUS_CODE.test(code) ||
    statusLine[12] !== undefined && statusLine[12] !== " " || !(status >= 100 && status < 600)
  ) {
    throw new UpstreamError(
      "protocol",
      `Upstream sent a malformed status line "${statusLine.slice(0, 80)}"`,
    );
  }
  const pairs = fields(lines);
  let contentLength: number | undefined;
  const codings: string[] = [];
  let keepAlive = statusLine.startsWith("HTTP/1.1");
  let contentType: string | undefined;
  for (const [name, value] of pairs) {
    if (name === "content-length") contentLength = parseContentLength(value, contentLength);
    else if (name === "transfer-encoding") codings.push(...listElements(value));
    else if (name === "connection") keepAlive = connectionKeepsAlive(value, keepAlive);
    else if (name === "content-type") contentType = value;
  }
  let framing: ResponseHead["framing"] = contentLength === undefined ? "close" : "length";
  if (codings.length > 0) {
    // Transfer-Encoding overrides Content-Length; unless chunked comes last, the body runs to the
    // close (RFC 9112 section 6.3), and a connection framed that oddly is not trusted again.
    framing = codings[codings.length - 1] === "chunked" ? "chunked" : "close";
    if (contentLength !== undefined || framing === "close") keepAlive = false;
    contentLength = undefined;
  }
  return {
    status,
    headers: endToEndHeaders(pairs),
    contentType,
    contentLength,
    framing,
    keepAlive,
  };
}

/** How the body of `head` is framed, given the request's method (RFC 9112 section 6.3). */
export function bodyFraming(head: ResponseHead, method: string): BodyFraming {
  if (method === "HEAD" || head.status === 204 || head.status === 304) return "none";
  if (head.framing === "length" && head.contentLength === 0) return "none";
  return head.framing;
}

function parseContentLength(value: string, previous: number | undefined): number {
  if (previous === undefined && DIGITS.test(value) && value.length < 16) return Number(value);
  // Repeated values ("12, 12") are allowed when they agree; anything else cannot be framed safely.
  let length: number | undefined = previous;
  for (const part of value.split(",")) {
    const trimmed = part.trim();
    const n = DIGITS.test(trimmed) ? Number(trimmed) : NaN;
    if (!Number.isSafeInteger(n) || (length !== undefined && length !== n)) {
      throw new UpstreamError(
        "protocol",
        `Upstream sent a malformed Content-Length "${value.slice(0, 40)}"`,
      );
    }
    length = n;
  }
  return length!;
}

function connectionKeepsAlive(value: string, current: boolean): boolean {
  const tokens = listElements(value);
  if (tokens.includes("close")) return false;
  if (tokens.includes("keep-alive")) return true;
  return current;
}

/** Parses an HTTP/1.x response head (status line and header fields) and decides how its body is framed. */

/** How a response body is delimited. */
export type BodyFraming = "none" | "length" | "chunked" | "close";

/** A parsed response head. */
export interface ResponseHead {
  /** The status code. */
  status: number;
  /** Header pairs (lower-case names), without hop-by-hop ones, Content-Length and Transfer-Encoding. */
  headers: [string, string][];
  /** The Content-Type header's value, if any. */
  contentType: string | undefined;
  /** The declared Content-Length, if any. */
  contentLength: number | undefined;
  /** Whether the body is chunked. */
  chunked: boolean;
  /** Whether the connection may carry another request after this response. */
  keepAlive: boolean;
}

/** Response headers that describe the connection, not the answer: never relayed. */
export const HOP_BY_HOP_RESPONSE: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-length",
  "proxy-connection",
  "upgrade",
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

/** Parses `text` (a head without its blank line); throws on a malformed status line or Content-Length. */
export function parseResponseHead(text: string): ResponseHead {
  const lines = text.split("\r\n");
  const statusLine = lines[0] ?? "";
  const status = Number(statusLine.slice(9, 12));
  if (
    !statusLine.startsWith("HTTP/1.") || statusLine[12] !== undefined && statusLine[12] !== " " ||
    !(status >= 100 && status < 600)
  ) {
    throw new Error(`Upstream sent a malformed status line "${statusLine.slice(0, 80)}"`);
  }
  const headers: [string, string][] = [];
  let contentLength: number | undefined;
  let chunked = false;
  let keepAlive = statusLine.startsWith("HTTP/1.1");
  let contentType: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "content-length") contentLength = parseContentLength(value, contentLength);
    else if (name === "transfer-encoding") chunked = /(?:^|,)\s*chunked\s*$/i.test(value);
    else if (name === "connection") keepAlive = connectionKeepsAlive(value, keepAlive);
    else if (name === "content-type") contentType = value;
    if (!HOP_BY_HOP_RESPONSE.has(name)) headers.push([name, value]);
  }
  return { status, headers, contentType, contentLength, chunked, keepAlive };
}

/** How the body of `head` is framed, given the request's method (RFC 9112 section 6.3). */
export function bodyFraming(head: ResponseHead, method: string): BodyFraming {
  if (method === "HEAD" || head.status === 204 || head.status === 304) return "none";
  if (head.chunked) return "chunked";
  if (head.contentLength !== undefined) return head.contentLength === 0 ? "none" : "length";
  return "close";
}

function parseContentLength(value: string, previous: number | undefined): number {
  if (previous === undefined && DIGITS.test(value) && value.length < 16) return Number(value);
  // Repeated values ("12, 12") are allowed when they agree; anything else cannot be framed safely.
  let length: number | undefined = previous;
  for (const part of value.split(",")) {
    const trimmed = part.trim();
    const n = DIGITS.test(trimmed) ? Number(trimmed) : NaN;
    if (!Number.isSafeInteger(n) || (length !== undefined && length !== n)) {
      throw new Error(`Upstream sent a malformed Content-Length "${value.slice(0, 40)}"`);
    }
    length = n;
  }
  return length!;
}

function connectionKeepsAlive(value: string, current: boolean): boolean {
  const lower = value.toLowerCase();
  if (lower === "keep-alive") return true;
  if (lower === "close") return false;
  const tokens = lower.split(",").map((t) => t.trim());
  if (tokens.includes("close")) return false;
  if (tokens.includes("keep-alive")) return true;
  return current;
}

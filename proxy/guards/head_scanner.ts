/**
 * Follows an HTTP/1.1 client's byte stream request by request without buffering it: where each
 * request head starts and ends, and where its body (Content-Length or chunked) ends, so the
 * connection guard can time the heads alone.
 */

/** Bytes of a header value (or a chunk-size line) the scanner keeps to parse; longer ones stop it. */
export const MAX_SCANNED_VALUE_BYTES = 1024;

/** Bytes of a request line the scanner keeps to read its method and version; a longer one stops it. */
export const MAX_START_LINE_BYTES = 16 * 1024;

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SP = 0x20;
const HT = 0x09;

/** What the scanner is reading. */
const enum State {
  /** Between requests: the next byte starts a head. */
  Idle,
  /** A head's start line (empty lines before it are skipped). */
  StartLine,
  /** A header name, up to its colon. */
  Name,
  /** A header value the framing depends on, kept. */
  Value,
  /** The rest of a line nothing depends on. */
  SkipLine,
  /** `remaining` bytes of a Content-Length body, or of a chunk's data. */
  Body,
  /** A chunk-size line. */
  ChunkSize,
  /** The CRLF after a chunk's data. */
  ChunkEnd,
  /** A line of the trailer section after the last chunk. */
  Trailer,
  /** Framing the scanner cannot follow (an upgrade, CONNECT, a malformed head): it stops. */
  Opaque,
}

/** Headers the framing depends on. */
const enum Framing {
  None,
  ContentLength,
  TransferEncoding,
  Upgrade,
}

const FRAMING_NAMES: ReadonlyArray<[string, Framing]> = [
  ["content-length", Framing.ContentLength],
  ["transfer-encoding", Framing.TransferEncoding],
  ["upgrade", Framing.Upgrade],
];
const LONGEST_NAME = 17;

/**
 * A streaming scanner of the client's side of an HTTP/1.1 connection. {@linkcode HeadScanner.push}
 * each chunk as it arrives; {@linkcode HeadScanner.inHead} and {@linkcode HeadScanner.heads} then
 * say whether a head is arriving and how many have begun. It looks at each head byte once, skips
 * body bytes by count, and keeps at most one header value or chunk-size line.
 *
 * After a request it cannot follow (`Upgrade:`, `CONNECT`, HTTP/2's preface, both framings at
 * once, a head Deno.serve refuses) it turns {@linkcode HeadScanner.opaque} and reads no further:
 * the bytes pass on unchanged. A head it cannot parse is still followed to its empty line, so its
 * time is still counted.
 */
export class HeadScanner {
  #state: State;
  #heads: number;
  #ended = 0;
  /** Bytes of the current line, CRs not counted. */
  #lineBytes = 0;
  /** Whether the current line's last byte was a CR (a line of just CR is empty). */
  #lastCr = false;
  #remaining = 0;
  #name = "";
  #framing = Framing.None;
  #value = "";
  #contentLength: number | undefined;
  #chunked = false;
  /** The head just read leaves the stream's framing unknown: stop after it. */
  #stop = false;

  /** @param startInHead whether the stream begins with a head (a new connection's does) @default true */
  constructor(startInHead = true) {
    this.#state = startInHead ? State.StartLine : State.Idle;
    this.#heads = startInHead ? 1 : 0;
  }

  /** Whether a head has begun and its empty line has not arrived yet. */
  get inHead(): boolean {
    const s = this.#state;
    return s === State.StartLine || s === State.Name || s === State.Value || s === State.SkipLine;
  }

  /** Heads begun so far (a stream that starts in a head counts its first from the start). */
  get heads(): number {
    return this.#heads;
  }

  /** Heads whose empty line arrived. */
  get endedHeads(): number {
    return this.#ended;
  }

  /** Whether the scanner stopped following the stream (an upgrade, or framing it cannot parse). */
  get opaque(): boolean {
    return this.#state === State.Opaque;
  }

  /** Reads `bytes`, the next piece of the stream. */
  push(bytes: Uint8Array): void {
    const n = bytes.length;
    let i = 0;
    while (i < n) {
      switch (this.#state) {
        case State.Opaque:
          return;
        case State.Idle: {
          // Stray line ends between requests are skipped (Deno.serve does), not timed as a head.
          const b = bytes[i]!;
          if (b === CR || b === LF) {
            i++;
            break;
          }
          this.#heads++;
          this.#beginHead();
          break;
        }
        case State.Body: {
          const take = Math.min(this.#remaining, n - i);
          this.#remaining -= take;
          i += take;
          if (this.#remaining === 0) {
            this.#state = this.#chunked ? State.ChunkEnd : State.Idle;
            this.#lineBytes = 0;
          }
          break;
        }
        case State.StartLine:
        case State.Value:
        case State.ChunkSize: {
          const lf = bytes.indexOf(LF, i);
          if (this.#state === State.StartLine && this.#value === "" && lf !== -1) {
            i = this.#wholeStartLine(bytes, i, lf);
            break;
          }
          const end = lf === -1 ? n : lf;
          const cap = this.#state === State.StartLine
            ? MAX_START_LINE_BYTES
            : MAX_SCANNED_VALUE_BYTES;
          const keep = Math.min(end, i + cap + 1 - this.#value.length);
          this.#value += latin1(bytes, i, keep);
          if (this.#value.length > cap) {
            i = keep;
            this.#overlong();
          } else if (lf !== -1) {
            i = lf + 1;
            this.#endKeptLine();
          } else {
            i = n;
          }
          break;
        }
        case State.SkipLine: {
          const lf = bytes.indexOf(LF, i);
          if (lf === -1) return;
          i = lf + 1;
          this.#nextHeader();
          break;
        }
        case State.Name:
        case State.Trailer: {
          if (this.#state === State.Name && this.#lineBytes === 0) {
            const lf = bytes.indexOf(LF, i);
            if (lf - i >= 2) {
              i = this.#wholeHeaderLine(bytes, i, lf);
              break;
            }
          }
          const b = bytes[i++]!;
          if (b === LF) this.#endNameLine();
          else if (b === COLON && this.#state === State.Name) this.#endName();
          else {
            if ((b === SP || b === HT) && this.#lineBytes === 0) this.#stop = true; // obs-fold
            this.#lineBytes++;
            this.#lastCr = b === CR;
            if (this.#name.length <= LONGEST_NAME) this.#name += String.fromCharCode(b);
          }
          break;
        }
        case State.ChunkEnd: {
          const b = bytes[i++]!;
          if (b === LF) {
            this.#state = State.ChunkSize;
            this.#value = "";
          } else if (b !== CR || this.#lineBytes++ > 0) {
            this.#state = State.Opaque;
          }
          break;
        }
      }
    }
  }

  /**
   * A request line that lies whole in this chunk, the usual case: read as the kept line would be
   * (as `#endStartLine` reads a kept one), without building a string. Returns where reading goes on.
   */
  #wholeStartLine(bytes: Uint8Array, from: number, lf: number): number {
    const end = lf > from && bytes[lf - 1] === CR ? lf - 1 : lf;
    if (end === from) return lf + 1;
    if (lf - from > MAX_START_LINE_BYTES || !isRequestLine(bytes, from, end)) this.#stop = true;
    this.#nextHeader();
    return lf + 1;
  }

  /**
   * A header line that lies whole in this chunk (`lf` is its end), the usual case: its colon is
   * found and its name matched without building a string; agrees with the byte-by-byte path.
   * Returns where reading goes on.
   */
  #wholeHeaderLine(bytes: Uint8Array, from: number, lf: number): number {
    const first = bytes[from]!;
    if (first === SP || first === HT) this.#stop = true; // obs-fold
    let colon = from;
    while (colon < lf && bytes[colon] !== COLON) colon++;
    if (colon === lf) {
      // No colon: Deno.serve refuses the head.
      this.#stop = true;
      this.#nextHeader();
      return lf + 1;
    }
    this.#framing = framingOf(bytes, from, colon);
    if (this.#framing === Framing.None) {
      this.#nextHeader();
      return lf + 1;
    }
    this.#state = State.Value;
    this.#value = "";
    return colon + 1;
  }

  #beginHead(): void {
    this.#state = State.StartLine;
    this.#value = "";
    this.#contentLength = undefined;
    this.#chunked = false;
    this.#stop = false;
  }

  #nextHeader(): void {
    this.#state = State.Name;
    this.#name = "";
    this.#lineBytes = 0;
    this.#lastCr = false;
  }

  /** A line kept whole (start line, framing header value, chunk size) is too long to keep. */
  #overlong(): void {
    this.#value = "";
    if (this.#state === State.ChunkSize) {
      this.#state = State.Opaque;
      return;
    }
    this.#stop = true;
    this.#state = State.SkipLine;
  }

  #endKeptLine(): void {
    const raw = this.#value;
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    this.#value = "";
    if (this.#state === State.StartLine) this.#endStartLine(line);
    else if (this.#state === State.Value) this.#endValue(line.trim());
    else this.#endChunkSize(line);
  }

  #endStartLine(line: string): void {
    // Empty lines before a request line are skipped, as RFC 9112 allows.
    if (line === "") return;
    const bytes = Uint8Array.from(line, (c) => c.charCodeAt(0));
    if (!isRequestLine(bytes, 0, bytes.length)) this.#stop = true;
    this.#nextHeader();
  }

  /** A header name ended at its colon. */
  #endName(): void {
    const name = this.#lineBytes > LONGEST_NAME ? "" : this.#name.toLowerCase();
    this.#framing = Framing.None;
    for (const [known, framing] of FRAMING_NAMES) {
      if (name === known) this.#framing = framing;
    }
    this.#lastCr = false;
    if (this.#framing === Framing.None) {
      this.#state = State.SkipLine;
    } else {
      this.#state = State.Value;
      this.#value = "";
    }
  }

  /** A line with no colon ended: the empty line that ends the head or trailer, or a bad header. */
  #endNameLine(): void {
    const empty = this.#lineBytes === 0 || (this.#lineBytes === 1 && this.#lastCr);
    this.#lastCr = false;
    if (this.#state === State.Trailer) {
      if (empty) this.#state = State.Idle;
      this.#lineBytes = 0;
      return;
    }
    if (!empty) {
      this.#stop = true;
      this.#nextHeader();
      return;
    }
    this.#ended++;
    if (this.#stop) this.#state = State.Opaque;
    else if (this.#chunked) {
      this.#state = this.#contentLength === undefined ? State.ChunkSize : State.Opaque;
      this.#value = "";
    } else if (this.#contentLength !== undefined && this.#contentLength > 0) {
      this.#state = State.Body;
      this.#remaining = this.#contentLength;
    } else {
      this.#state = State.Idle;
    }
  }

  #endValue(value: string): void {
    if (this.#framing === Framing.ContentLength) {
      const length = /^\d{1,15}$/.test(value) ? Number(value) : -1;
      if (length < 0 || (this.#contentLength ?? length) !== length) this.#stop = true;
      this.#contentLength = length;
    } else if (this.#framing === Framing.TransferEncoding) {
      for (const coding of value.toLowerCase().split(",")) {
        const name = coding.trim();
        if (name === "") continue;
        // Chunked must come last and once: otherwise the body's end is unknown (Deno.serve: 400).
        if (this.#chunked || name !== "chunked") this.#stop = true;
        this.#chunked = true;
      }
    } else {
      this.#stop = true;
    }
    this.#nextHeader();
  }

  #endChunkSize(line: string): void {
    const semicolon = line.indexOf(";");
    const hex = (semicolon === -1 ? line : line.slice(0, semicolon)).trim();
    if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) {
      this.#state = State.Opaque;
      return;
    }
    const size = parseInt(hex, 16);
    this.#lineBytes = 0;
    this.#name = "";
    this.#state = size === 0 ? State.Trailer : State.Body;
    this.#remaining = size;
  }
}

const HTTP_1 = " HTTP/1.";

/** Whether `bytes[from..end)` is an HTTP/1.0 or 1.1 request line the scanner can follow (not CONNECT). */
function isRequestLine(bytes: Uint8Array, from: number, end: number): boolean {
  const versionAt = end - HTTP_1.length - 1;
  if (versionAt < from) return false;
  for (let i = 0; i < HTTP_1.length; i++) {
    if (bytes[versionAt + i] !== HTTP_1.charCodeAt(i)) return false;
  }
  const minor = bytes[end - 1];
  if (minor !== 0x30 && minor !== 0x31) return false;
  let space = from;
  while (space < end && bytes[space] !== SP) space++;
  return !bytesAre(bytes, from, space, "CONNECT") && !bytesAre(bytes, from, space, "PRI");
}

/** Whether `bytes[from..to)` is exactly `text`. */
function bytesAre(bytes: Uint8Array, from: number, to: number, text: string): boolean {
  if (to - from !== text.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[from + i] !== text.charCodeAt(i)) return false;
  return true;
}

/** The framing header whose name is `bytes[from..to)`, matched case-insensitively, if any. */
function framingOf(bytes: Uint8Array, from: number, to: number): Framing {
  const length = to - from;
  for (const [name, framing] of FRAMING_NAMES) {
    if (name.length !== length) continue;
    let i = 0;
    while (i < length) {
      const b = bytes[from + i]!;
      // ASCII letters only are folded, as the byte-by-byte path's toLowerCase folds them.
      if ((b >= 0x41 && b <= 0x5a ? b | 0x20 : b) !== name.charCodeAt(i)) break;
      i++;
    }
    if (i === length) return framing;
  }
  return Framing.None;
}

function latin1(bytes: Uint8Array, from: number, to: number): string {
  let text = "";
  for (let at = from; at < to; at += 4096) {
    text += String.fromCharCode(...bytes.subarray(at, Math.min(to, at + 4096)));
  }
  return text;
}

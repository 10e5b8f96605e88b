/** Reads one response body off an upstream connection on demand, de-chunking as it goes. */
import { concatBytes } from "./bytes.ts";
import { abortError, LINE_LIMIT_BYTES, type UpstreamConnection } from "./connection.ts";
import { UpstreamError } from "./errors.ts";
import type { BodyFraming } from "./head.ts";

const CR = 13;
const LF = 10;
const HEX = /^[0-9a-fA-F]+$/;
const latin1 = new TextDecoder("latin1");

/** Options of {@linkcode BodyReader}. */
export interface BodyReaderOptions {
  /** How the body is delimited. */
  framing: BodyFraming;
  /** The body's length when `framing` is `length`. */
  length: number;
  /** Called once when the body ends; `reusable` when it was read to its end and nothing is left over. */
  onDone(reusable: boolean): void;
  /** The request's signal: a read failing after it aborted rejects with an AbortError. */
  signal: AbortSignal;
}

/**
 * One response body. It reads from the socket only when asked for the next piece, so a slow
 * client holds the upstream back (TCP backpressure) instead of the gateway buffering ahead.
 */
export class BodyReader {
  #c: UpstreamConnection;
  #framing: BodyFraming;
  #left: number;
  #chunkLeft = 0;
  #state: "size" | "data" | "data_crlf" | "trailers" | "end" = "size";
  #onDone: (reusable: boolean) => void;
  #signal: AbortSignal;
  #finished = false;

  /**
   * @param connection the connection, positioned at the body's first byte
   * @param options framing and the end callback
   */
  constructor(connection: UpstreamConnection, options: BodyReaderOptions) {
    this.#c = connection;
    this.#framing = options.framing;
    this.#left = options.length;
    this.#onDone = options.onDone;
    this.#signal = options.signal;
    if (this.#framing === "none") this.#finish(true);
  }

  /**
   * Stops reading and closes the connection; a no-op once the body has ended, when the connection
   * may already carry another request.
   */
  cancel(): void {
    if (this.#finished) return;
    this.#c.close();
    this.#finish(false);
  }

  /** The next piece of the body (a copy the caller owns), or null at its end. */
  async read(): Promise<Uint8Array | null> {
    const c = this.#c;
    for (;;) {
      if (this.#finished) return null;
      if (this.#framing === "chunked") {
        // Everything already buffered goes out as one piece (several small SSE events read in
        // one go cost one write downstream, not one each); nothing waits for more bytes.
        const pieces: Uint8Array[] = [];
        for (;;) {
          const piece = this.#chunkStep();
          if (piece === "need" || this.#state === "end") break;
          if (piece !== undefined) pieces.push(piece);
        }
        // The pieces are views into the connection's buffer: copy them before the end of the body
        // hands the connection back to the pool, whose idle read writes into that buffer.
        const out = pieces.length === 0
          ? undefined
          : pieces.length === 1
          ? pieces[0]!.slice()
          : concatBytes(pieces);
        if (this.#state === "end") this.#finish(true);
        if (out) return out;
        if (this.#finished) continue;
      } else if (c.end > c.start) {
        const n = this.#framing === "length"
          ? Math.min(this.#left, c.end - c.start)
          : c.end - c.start;
        const out = c.buf.slice(c.start, c.start + n);
        c.start += n;
        if (this.#framing === "length" && (this.#left -= n) === 0) this.#finish(true);
        return out;
      }
      if (await this.#more()) continue;
      return null;
    }
  }

  /** The whole body. */
  async bytes(): Promise<Uint8Array<ArrayBuffer>> {
    const c = this.#c;
    if (!this.#finished && this.#framing === "length" && c.end - c.start >= this.#left) {
      // All of it came with the head (a small JSON answer): no read to wait for.
      const out = c.buf.slice(c.start, c.start + this.#left);
      c.start += this.#left;
      this.#left = 0;
      this.#finish(true);
      return out;
    }
    const parts: Uint8Array[] = [];
    for (let piece = await this.read(); piece !== null; piece = await this.read()) {
      parts.push(piece);
    }
    return parts.length === 1 ? parts[0] as Uint8Array<ArrayBuffer> : concatBytes(parts);
  }

  #finish(reusable: boolean): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#onDone(reusable && this.#c.buffered === 0);
  }

  /** Closes the connection and returns the error to throw for a body that cannot be framed. */
  #malformed(message: string): UpstreamError {
    this.cancel();
    return new UpstreamError("protocol", message);
  }

  /** Reads more bytes; false at a clean end of a body framed by the connection closing. */
  async #more(): Promise<boolean> {
    let more: boolean;
    try {
      more = await this.#c.fill();
    } catch (error) {
      this.#finish(false);
      if (this.#signal.aborted) throw abortError(this.#signal);
      throw new UpstreamError(
        "closed_after_write",
        `Upstream connection failed mid-body: ${error}`,
        {
          cause: error,
        },
      );
    }
    if (more) return true;
    this.#finish(false);
    if (this.#framing === "close") return false;
    throw new UpstreamError(
      "closed_after_write",
      "Upstream closed the connection in the middle of the response body",
    );
  }

  /** The index of the next LF in the buffer, or -1 (throwing when a line grows past the limit). */
  #lineEnd(): number {
    const c = this.#c;
    const lf = c.buf.subarray(c.start, c.end).indexOf(LF);
    if (lf < 0 && c.end - c.start > LINE_LIMIT_BYTES) {
      throw this.#malformed("Upstream sent a chunk-size or trailer line that is too long");
    }
    return lf;
  }

  /**
   * Advances the chunked decoder over buffered bytes: data (a view into the buffer, valid until
   * the next fill), "need" for more bytes, or undefined to go on.
   */
  #chunkStep(): Uint8Array | "need" | undefined {
    const c = this.#c;
    switch (this.#state) {
      case "size": {
        const lf = this.#lineEnd();
        if (lf < 0) return "need";
        const line = latin1.decode(c.buf.subarray(c.start, c.start + lf));
        c.start += lf + 1;
        // A chunk extension (";name=value") is allowed and ignored.
        const digits = (line.split(";")[0] ?? "").trim();
        if (!HEX.test(digits) || digits.length > 12) {
          throw this.#malformed(
            `Upstream sent a malformed chunk size "${line.trim().slice(0, 40)}"`,
          );
        }
        const size = parseInt(digits, 16);
        if (size === 0) this.#state = "trailers";
        else {
          this.#chunkLeft = size;
          this.#state = "data";
        }
        return undefined;
      }
      case "data": {
        if (c.end === c.start) return "need";
        const n = Math.min(this.#chunkLeft, c.end - c.start);
        const out = c.buf.subarray(c.start, c.start + n);
        c.start += n;
        this.#chunkLeft -= n;
        if (this.#chunkLeft === 0) this.#state = "data_crlf";
        return out;
      }
      case "data_crlf": {
        if (c.end - c.start < 2) return "need";
        if (c.buf[c.start] !== CR || c.buf[c.start + 1] !== LF) {
          throw this.#malformed("Upstream sent a chunk without the CRLF after its data");
        }
        c.start += 2;
        this.#state = "size";
        return undefined;
      }
      case "trailers": {
        // Trailer fields are read and dropped; the blank line ends the body.
        const lf = this.#lineEnd();
        if (lf < 0) return "need";
        const blank = lf === 0 || (lf === 1 && c.buf[c.start] === CR);
        c.start += lf + 1;
        if (blank) this.#state = "end";
        return undefined;
      }
      case "end": {
        return undefined;
      }
    }
  }
}

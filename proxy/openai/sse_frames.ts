/** Keeps a relayed event stream whole at event boundaries, so a failure's error event never lands inside a half-sent event. */

const LF = 10;
const CR = 13;

/** The index just past the last blank line (`\n\n`, `\r\n\r\n` or `\r\r`) in `bytes`, or 0. */
export function lastEventEnd(bytes: Uint8Array): number {
  for (let i = bytes.length - 1; i > 0; i--) {
    const b = bytes[i];
    if (b !== LF && b !== CR) continue;
    const prev = bytes[i - 1];
    if (prev === b) return i + 1;
    if (b === LF && prev === CR && i >= 3 && bytes[i - 2] === LF && bytes[i - 3] === CR) {
      return i + 1;
    }
  }
  return 0;
}

/**
 * Splits relayed SSE bytes at event boundaries. A chunk that ends at one (nearly all do: a replica
 * writes whole events) passes through as it is; the tail of one that does not is held back until
 * the rest of its event comes, so that if the replica fails meanwhile the error event that ends
 * the stream is not glued onto half an event the client cannot parse.
 */
export class SseFramer {
  #held: Uint8Array | undefined;

  /** The bytes of `chunk` (after any held back) that end at an event boundary; undefined when none do. */
  take(chunk: Uint8Array): Uint8Array | undefined {
    const bytes = this.#held ? concat(this.#held, chunk) : chunk;
    this.#held = undefined;
    const n = bytes.length;
    if (n >= 2 && bytes[n - 1] === LF && (bytes[n - 2] === LF || lastEventEnd(bytes) === n)) {
      return bytes;
    }
    const end = lastEventEnd(bytes);
    if (end < n) this.#held = bytes.slice(end);
    return end === 0 ? undefined : bytes.subarray(0, end);
  }

  /** Whether part of an event is held back (the stream stopped inside an event). */
  get open(): boolean {
    return this.#held !== undefined && this.#held.some((b) => b !== LF && b !== CR);
  }

  /** Hands over what is held back (at a clean end of stream), or undefined. */
  rest(): Uint8Array | undefined {
    const held = this.#held;
    this.#held = undefined;
    return held;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

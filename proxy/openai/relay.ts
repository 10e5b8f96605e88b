/** The streaming relay: passes an upstream body on chunk by chunk, taps it for usage, and turns a late failure into an error event. */
import { errorEvent } from "../errors.ts";
import type { UpstreamResponse } from "../upstream/mod.ts";
import { SseFramer } from "./sse_frames.ts";
import { type TappedUsage, UsageTap } from "./usage_tap.ts";
import { ChunkGaps } from "../chunk_gaps.ts";

const encoder = new TextEncoder();
const TIMED_OUT = "The request timed out while streaming; retry or raise proxy.request_timeout";
const NO_DONE = "The backend's stream ended before data: [DONE]; retry the request";

/** The end of a broken stream: an OpenAI-shaped error event, then `data: [DONE]`, as clients expect. */
function brokenEnd(message: string, code: string): Uint8Array {
  return encoder.encode(`${errorEvent(message, { code })}data: [DONE]\n\n`);
}

/** How a relayed body ended, as the relay tells its owner. */
export interface RelayEnd {
  /** `done` at the body's end, `client` when the client went away, `error` when the upstream failed. */
  kind: "done" | "client" | "error";
  /** What went wrong, empty when nothing did. */
  message: string;
  /** `performance.now()` of the first body byte, if one came. */
  firstByteAt: number | undefined;
  /** Time spent in the relay's own code, in ms. */
  relayMs: number;
  /** Token counts the tap found. */
  usage: TappedUsage;
  /** The gaps between an SSE stream's chunks, when it was one. */
  gaps?: ChunkGaps;
}

/** Options of {@linkcode relay}. */
export interface RelayOptions {
  /** Whether the body is an SSE stream (a late failure then ends it with an error event). */
  stream: boolean;
  /** Aborted with "client" when the client cancels; its reason tells a timeout from a client abort. */
  abort: AbortController;
  /** Called once when the body ends, however it ends. */
  onEnd(end: RelayEnd): void;
  /** Called once when its first chunk came (a stream's first token), before it is relayed. */
  onFirstByte?(): void;
  /** Asked at the first chunk: a tap that is handed each chunk as it is relayed, if any. */
  bodyTap?(): BodyTap | undefined;
}

/** Keeps what a relay passes on (e.g. a plain call's answer, for its session). */
export interface BodyTap {
  /** A chunk as relayed; the relay does not touch it again. */
  take(chunk: Uint8Array): void;
  /** The body ended whole, after its last chunk went out (not called when it broke off). */
  end(): void;
}

/**
 * Relays `upstream`'s body chunk by chunk as it arrives, tapping it for usage. A failure after the
 * first byte, or an SSE stream that ends without `data: [DONE]`, ends the stream with an
 * OpenAI-shaped error event and `data: [DONE]`; of an SSE stream only half an event is ever held
 * back (see {@linkcode SseFramer}), so that error event is never glued onto one. A cancel by the
 * client aborts the upstream request. Nothing is read until the client side asks for a chunk,
 * so a stream that is never sent (its response could not be built) never reads or ends.
 */
export function relay(
  upstream: UpstreamResponse,
  options: RelayOptions,
): ReadableStream<Uint8Array> {
  const tap = new UsageTap(options.stream);
  const framer = options.stream ? new SseFramer() : undefined;
  let firstByteAt: number | undefined;
  let kept: BodyTap | undefined;
  // A stream's chunks come about one token each: their gaps are its inter-token latencies.
  const gaps = options.stream ? new ChunkGaps() : undefined;
  let lastChunkAt = 0;
  let relayMs = 0;
  let ended = false;
  const signal = options.abort.signal;
  const end = (kind: RelayEnd["kind"], message: string) => {
    if (ended) return;
    ended = true;
    signal.removeEventListener("abort", onAbort);
    const relayEnd: RelayEnd = { kind, message, firstByteAt, relayMs, usage: tap.result() };
    if (gaps !== undefined) relayEnd.gaps = gaps;
    options.onEnd(relayEnd);
  };
  let source: ReadableStreamDefaultController<Uint8Array> | undefined;
  // A timeout or a disconnect must end the relay even while nothing pulls (a client that stopped
  // reading): otherwise the backend's in-flight count and connection stay held until it leaves.
  const onAbort = () => {
    upstream.cancel();
    // A cancel (a session turn's POST /cancel) ends the relay as a client's disconnect does.
    const client = signal.reason === "client" || signal.reason === "cancel";
    const message = signal.reason === "cancel"
      ? "turn cancelled"
      : client
      ? "client disconnected"
      : TIMED_OUT;
    end(client ? "client" : "error", message);
    try {
      if (client || !options.stream) source?.error(new Error(message));
      else {
        // A timed-out stream still ends with an error event, whenever the client reads it.
        source?.enqueue(brokenEnd(message, "request_timeout"));
        source?.close();
      }
    } catch {
      // Already closed.
    }
  };
  signal.addEventListener("abort", onAbort, { once: true });
  return new ReadableStream<Uint8Array>({
    start(controller) {
      source = controller;
    },
    async pull(controller) {
      let chunk: Uint8Array | null;
      try {
        chunk = await upstream.read();
      } catch (error) {
        const reason = options.abort.signal.reason;
        if (reason === "client" || reason === "cancel") {
          end("client", reason === "cancel" ? "turn cancelled" : "client disconnected");
          return;
        }
        const message = reason === "timeout"
          ? TIMED_OUT
          : `The backend failed while streaming (${
            error instanceof Error ? error.message : String(error)
          }); retry the request`;
        end("error", message);
        try {
          if (options.stream) {
            const code = reason === "timeout" ? "request_timeout" : "upstream_error";
            controller.enqueue(brokenEnd(message, code));
            controller.close();
          } else {
            controller.error(new Error(message));
          }
        } catch {
          // The client went away meanwhile; nothing is left to tell.
        }
        return;
      }
      const t = performance.now();
      if (chunk === null) {
        const rest = framer?.rest();
        if (rest) tap.push(rest);
        // result() ends an event the stream left open, so its [DONE] counts.
        if (framer && (tap.result(), !tap.done)) {
          end("error", NO_DONE);
          controller.enqueue(brokenEnd(NO_DONE, "upstream_error"));
          kept = undefined;
        } else if (rest) {
          controller.enqueue(rest);
          kept?.take(rest);
        }
        controller.close();
        end("done", "");
        kept?.end();
        return;
      }
      if (firstByteAt === undefined) {
        firstByteAt = t;
        kept = options.bodyTap?.();
        options.onFirstByte?.();
      } else gaps?.add(t - lastChunkAt);
      lastChunkAt = t;
      const whole = framer ? framer.take(chunk) : chunk;
      if (whole) {
        controller.enqueue(whole);
        tap.push(whole);
        kept?.take(whole);
      }
      relayMs += performance.now() - t;
    },
    cancel() {
      options.abort.abort("client");
      upstream.cancel();
      end("client", "client disconnected");
    },
  }, { highWaterMark: 0 });
}

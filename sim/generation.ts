/** The response side of one generation request: engine tokens become text, SSE chunks or a body. */
import type { FinishReason } from "./engine.ts";
import type { ReplicaContext } from "./generate.ts";
import {
  chunkBody,
  completeBody,
  errorResponse,
  type GenerationKind,
  type ResponseHead,
  usageChunk,
  type UsageCounts,
} from "./responses.ts";
import type { ToolCallOutput } from "./tools.ts";

/** What one request will produce. */
export interface GenerationPlan {
  /** Chat or completion: decides the response shapes. */
  kind: GenerationKind;
  /** Id, creation time and model of the response. */
  head: ResponseHead;
  /** The text of every token the engine may generate, in order. */
  pieces: readonly string[];
  /** Stop strings: the output ends before the first one it contains. */
  stops: string[];
  /**
   * The last token ends with "stop" (an end-of-sequence token): no max_tokens was asked, or the
   * calls of a tool-calling turn fit in it.
   */
  natural: boolean;
  /** The turn's tool calls, when it makes some: the pieces write them. */
  toolCalls?: ToolCallOutput | undefined;
}

const encoder = new TextEncoder();

/** The response side of one request: turns engine tokens into text, chunks or a body. */
export class Generation {
  readonly #kind: GenerationKind;
  readonly #head: ResponseHead;
  readonly #plan: GenerationPlan;
  readonly #ctx: ReplicaContext;
  /** Counts for the usage object. */
  readonly usage: UsageCounts = { promptTokens: 0, cachedTokens: 0, completionTokens: 0 };
  #text = "";
  #done = false;
  #onPiece: (piece: string, finish: string | null, index: number) => void = () => {};
  #onEnd: (reason: string) => void = () => {};

  /** @param plan what to produce, @param ctx the replica it runs on */
  constructor(plan: GenerationPlan, ctx: ReplicaContext) {
    this.#kind = plan.kind;
    this.#head = plan.head;
    this.#plan = plan;
    this.#ctx = ctx;
  }

  /** Token `index` was generated: sends its text, or ends the output at a stop string. */
  token(index: number): void {
    if (this.#done) return;
    let piece = this.#plan.pieces[index]!;
    this.usage.completionTokens = index + 1;
    for (const stop of this.#plan.stops) {
      if (stop === "") continue;
      const at = (this.#text + piece).indexOf(stop);
      if (at >= 0) {
        piece = (this.#text + piece).slice(this.#text.length, Math.max(this.#text.length, at));
        this.#text += piece;
        this.#onPiece(piece, "stop", index);
        this.#ctx.engine.abort(this.#head.id, "stop");
        this.finish("stop");
        return;
      }
    }
    this.#text += piece;
    const last = index + 1 >= this.#plan.pieces.length;
    this.#onPiece(piece, last ? this.#reason(this.#plan.natural ? "stop" : "length") : null, index);
  }

  /** The finish reason reported: an end of sequence after tool calls is "tool_calls". */
  #reason(reason: string): string {
    return reason === "stop" && this.#plan.toolCalls ? "tool_calls" : reason;
  }

  /** The sequence ended for `reason`: completes the body or the stream. */
  finish(reason: FinishReason): void {
    if (this.#done) return;
    this.#done = true;
    this.#onEnd(reason);
  }

  #abort(): void {
    if (this.#done) return;
    this.#done = true;
    this.#ctx.engine.abort(this.#head.id);
  }

  /** The whole answer as one JSON body, once generated; a client that goes away aborts it. */
  jsonResponse(request: Request): Promise<Response> {
    return new Promise((resolve) => {
      const cleanup = () => {
        this.#ctx.active.delete(gone);
        request.signal.removeEventListener("abort", gone);
      };
      const gone = () => {
        cleanup();
        this.#abort();
        resolve(errorResponse(499, "Client closed the request"));
      };
      this.#ctx.active.add(gone);
      request.signal.addEventListener("abort", gone);
      this.#onEnd = (reason) => {
        cleanup();
        const calls = this.#plan.toolCalls?.callsAt(this.usage.completionTokens);
        const body = completeBody(
          this.#kind,
          this.#head,
          this.#text,
          this.#reason(reason),
          this.usage,
          calls,
        );
        resolve(Response.json(body));
      };
    });
  }

  /**
   * The answer as server-sent events, a chunk a token, with a usage chunk when `includeUsage`;
   * `cut` breaks the connection off after the fault's number of tokens.
   */
  streamResponse(includeUsage: boolean, cut: boolean): Response {
    const kind = this.#kind;
    const head = this.#head;
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let sent = 0;
    // The events of one engine burst (steps a real clock had let fall due, applied at once) leave
    // as one write, as a network stack coalesces them: a microtask flushes after the burst.
    let pending = "";
    const flush = () => {
      if (pending === "") return;
      const text = pending;
      pending = "";
      try {
        controller.enqueue(encoder.encode(text));
      } catch { /* the client went away */ }
    };
    const send = (obj: unknown) => {
      if (pending === "") queueMicrotask(flush);
      pending += `data: ${JSON.stringify(obj)}\n\n`;
    };
    // A client that goes away cancels the body stream; request.signal is not needed here.
    const cleanup = () => {
      this.#ctx.active.delete(shutdown);
    };
    const gone = () => {
      cleanup();
      this.#abort();
    };
    const shutdown = () => {
      gone();
      flush();
      // End the body without [DONE], as a replica going away does.
      try {
        controller.close();
      } catch { /* already closed */ }
    };
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
      },
      cancel: () => {
        pending = "";
        gone();
      },
    });
    this.#ctx.active.add(shutdown);
    this.#onPiece = (piece, finish, index) => {
      if (cut && sent >= this.#ctx.faults.state.cutAfterTokens) {
        gone();
        const cutError = new Error("Connection cut by fault injection");
        // Deno logs a failed response body; one line is enough for an injected fault.
        cutError.stack = `${cutError.name}: ${cutError.message} (${head.id})`;
        flush();
        controller.error(cutError);
        return;
      }
      if (sent === 0 && kind === "chat") {
        send(chunkBody(kind, head, "", null, { role: true, withUsageField: includeUsage }));
      }
      if (this.#plan.toolCalls) {
        const deltas = this.#plan.toolCalls.deltas(index);
        // The last token's chunk carries the finish reason, with an empty delta if it has none.
        if (finish !== null && deltas.length === 0) deltas.push({});
        for (const [i, delta] of deltas.entries()) {
          const end = i === deltas.length - 1 ? finish : null;
          send(chunkBody(kind, head, "", end, { delta, withUsageField: includeUsage }));
        }
      } else {
        send(chunkBody(kind, head, piece, finish, { withUsageField: includeUsage }));
      }
      sent++;
    };
    this.#onEnd = () => {
      cleanup();
      if (includeUsage) send(usageChunk(kind, head, this.usage));
      pending += "data: [DONE]\n\n";
      flush();
      // The body may have ended already: the replica shut down (or the client left) in the same
      // step as the answer's last token.
      try {
        controller.close();
      } catch { /* already closed */ }
    };
    return new Response(body, {
      headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" },
    });
  }
}

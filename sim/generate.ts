/** One generation request end to end: parse, tokenize, queue in the engine, answer or stream. */
import type { z } from "zod";
import type { Engine, FinishReason } from "./engine.ts";
import type { Faults } from "./faults.ts";
import {
  type ChatRequest,
  ChatRequestSchema,
  type CompletionRequest,
  CompletionRequestSchema,
  describeIssues,
  messageText,
} from "./schemas.ts";
import {
  chunkBody,
  completeBody,
  errorResponse,
  type GenerationKind,
  type ResponseHead,
  usageChunk,
  type UsageCounts,
} from "./responses.ts";
import { type PromptTokenizer, type PromptTokens, renderChat, renderCompletion } from "./tokens.ts";
import { mix32, naturalLength, tokenText } from "./text.ts";

/** What a request handler needs from its replica. */
export interface ReplicaContext {
  /** The engine. */
  engine: Engine;
  /** Counts prompts. */
  tokenizer: PromptTokenizer;
  /** Faults in force. */
  faults: Faults;
  /** The served model name. */
  model: string;
  /** The replica's seed. */
  seed: number;
  /** Longest prompt plus output accepted. */
  maxModelLen: number;
  /** Cleanups of requests in flight, run when the server closes. */
  active: Set<() => void>;
  /** A fresh request id. */
  nextId(): string;
}

/** Reads and parses a JSON body with `schema`; a Response is the 400 to send. */
export async function parseBody<T>(request: Request, schema: z.ZodType<T>): Promise<T | Response> {
  let json: unknown;
  try {
    json = await request.json();
  } catch {
    return errorResponse(400, "Request body must be valid JSON");
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) return errorResponse(400, describeIssues(parsed.error));
  return parsed.data;
}

/** Answers 404 unless `model` is the served one. */
export function checkModel(model: string, ctx: ReplicaContext): Response | undefined {
  if (model === ctx.model) return undefined;
  return errorResponse(404, `The model \`${model}\` does not exist.`);
}

/** Counts the prompt of a chat (rendered with its template) or a completion request. */
function promptOf(
  kind: GenerationKind,
  body: ChatRequest | CompletionRequest,
  tokenizer: PromptTokenizer,
): PromptTokens {
  if (kind === "chat") {
    const turns = (body as ChatRequest).messages.map((m) => ({
      role: m.role,
      content: messageText(m),
    }));
    return tokenizer.tokenize(renderChat(turns));
  }
  const prompt = (body as CompletionRequest).prompt;
  if (typeof prompt === "string") return tokenizer.tokenize(renderCompletion(prompt));
  if (typeof prompt[0] === "string") return tokenizer.tokenize(renderCompletion(prompt[0]));
  // Token ids: the beginning-of-text token plus the ids; blocks hash their decimal text.
  const ids = prompt as number[];
  return { ...tokenizer.tokenize(ids.join(",")), tokens: ids.length + 1 };
}

function hang(request: Request, ctx: ReplicaContext): Promise<Response> {
  return new Promise((resolve) => {
    const done = () => {
      ctx.active.delete(done);
      request.signal.removeEventListener("abort", done);
      resolve(errorResponse(503, "Replica hung by fault injection: retry on another replica"));
    };
    ctx.active.add(done);
    request.signal.addEventListener("abort", done);
  });
}

/** Handles `POST /v1/chat/completions` (`kind` "chat") or `POST /v1/completions`. */
export async function handleGeneration(
  kind: GenerationKind,
  request: Request,
  ctx: ReplicaContext,
): Promise<Response> {
  if (ctx.faults.loading) return errorResponse(503, "The model is still loading: retry later");
  const body = await parseBody<ChatRequest | CompletionRequest>(
    request,
    kind === "chat" ? ChatRequestSchema : CompletionRequestSchema,
  );
  if (body instanceof Response) return body;
  const wrongModel = checkModel(body.model, ctx);
  if (wrongModel) return wrongModel;
  const fate = ctx.faults.decide();
  if (fate === "error") {
    return errorResponse(500, "Internal server error injected by fault: retry the request");
  }
  if (fate === "hang") return hang(request, ctx);

  const counted = promptOf(kind, body, ctx.tokenizer);
  const requested = body.max_tokens ??
    (kind === "chat" ? (body as ChatRequest).max_completion_tokens : undefined);
  const seed = body.seed ?? mix32(ctx.seed, counted.promptHash);
  const room = ctx.maxModelLen - counted.tokens;
  if (room <= 0 || (requested ?? 0) > room) {
    return errorResponse(
      400,
      `This model's maximum context length is ${ctx.maxModelLen} tokens. However, you requested ${
        counted.tokens + (requested ?? 0)
      } tokens (${counted.tokens} in the messages, ${
        requested ?? 0
      } in the completion). Please reduce the length of the messages or completion.`,
    );
  }
  const maxTokens = requested ?? Math.min(naturalLength(seed), room);
  const natural = requested === undefined;
  if (counted.tokens + maxTokens > ctx.engine.maxPromptTokens) {
    return errorResponse(
      400,
      `The prompt needs ${
        counted.tokens + maxTokens
      } tokens of KV cache but the replica holds ${ctx.engine.maxPromptTokens}: shorten the prompt or max_tokens`,
    );
  }
  const stops = body.stop === undefined || body.stop === null
    ? []
    : typeof body.stop === "string"
    ? [body.stop]
    : body.stop;
  const head: ResponseHead = {
    id: `${kind === "chat" ? "chatcmpl" : "cmpl"}-${ctx.nextId()}`,
    created: Math.floor(Date.now() / 1000),
    model: ctx.model,
  };
  const run = new Generation(kind, head, { seed, stops, maxTokens, natural }, ctx);
  ctx.engine.submit(
    {
      id: head.id,
      promptTokens: counted.tokens,
      blockHashes: counted.blockHashes,
      maxTokens,
      endReason: natural ? "stop" : "length",
    },
    {
      onAdmitted: (cachedTokens) => {
        run.usage.cachedTokens = cachedTokens;
      },
      onToken: (index) => run.token(index),
      onFinish: (result) => run.finish(result.reason),
    },
  );
  run.usage.promptTokens = counted.tokens;
  const stream = body.stream === true;
  const includeUsage = stream && body.stream_options?.include_usage === true;
  return stream ? run.streamResponse(includeUsage, fate === "cut") : run.jsonResponse(request);
}

interface GenerationPlan {
  seed: number;
  stops: string[];
  maxTokens: number;
  natural: boolean;
}

const encoder = new TextEncoder();

/** The response side of one request: turns engine tokens into text, chunks or a body. */
class Generation {
  readonly #kind: GenerationKind;
  readonly #head: ResponseHead;
  readonly #plan: GenerationPlan;
  readonly #ctx: ReplicaContext;
  /** Counts for the usage object. */
  readonly usage: UsageCounts = { promptTokens: 0, cachedTokens: 0, completionTokens: 0 };
  #text = "";
  #done = false;
  #onPiece: (piece: string, finish: string | null) => void = () => {};
  #onEnd: (reason: string) => void = () => {};

  constructor(kind: GenerationKind, head: ResponseHead, plan: GenerationPlan, ctx: ReplicaContext) {
    this.#kind = kind;
    this.#head = head;
    this.#plan = plan;
    this.#ctx = ctx;
  }

  token(index: number): void {
    if (this.#done) return;
    let piece = tokenText(this.#plan.seed, index);
    this.usage.completionTokens = index + 1;
    for (const stop of this.#plan.stops) {
      if (stop === "") continue;
      const at = (this.#text + piece).indexOf(stop);
      if (at >= 0) {
        piece = (this.#text + piece).slice(this.#text.length, Math.max(this.#text.length, at));
        this.#text += piece;
        this.#onPiece(piece, "stop");
        this.#ctx.engine.abort(this.#head.id, "stop");
        this.finish("stop");
        return;
      }
    }
    this.#text += piece;
    const last = index + 1 >= this.#plan.maxTokens;
    this.#onPiece(piece, last ? (this.#plan.natural ? "stop" : "length") : null);
  }

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

  jsonResponse(request: Request): Promise<Response> {
    return new Promise((resolve) => {
      const cleanup = () => {
        this.#ctx.active.delete(cleanup);
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
        resolve(
          Response.json(completeBody(this.#kind, this.#head, this.#text, reason, this.usage)),
        );
      };
    });
  }

  streamResponse(includeUsage: boolean, cut: boolean): Response {
    const kind = this.#kind;
    const head = this.#head;
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let sent = 0;
    const send = (obj: unknown) =>
      controller.enqueue(encoder.encode(`data: ${JSON.stringify(obj)}\n\n`));
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
      // End the body without [DONE], as a replica going away does.
      try {
        controller.close();
      } catch { /* already closed */ }
    };
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
      },
      cancel: gone,
    });
    this.#ctx.active.add(shutdown);
    this.#onPiece = (piece, finish) => {
      if (cut && sent >= this.#ctx.faults.state.cutAfterTokens) {
        gone();
        const cutError = new Error("Connection cut by fault injection");
        // Deno logs a failed response body; one line is enough for an injected fault.
        cutError.stack = `${cutError.name}: ${cutError.message} (${head.id})`;
        controller.error(cutError);
        return;
      }
      if (sent === 0 && kind === "chat") {
        send(chunkBody(kind, head, "", null, { role: true, withUsageField: includeUsage }));
      }
      send(chunkBody(kind, head, piece, finish, { withUsageField: includeUsage }));
      sent++;
    };
    this.#onEnd = () => {
      cleanup();
      if (includeUsage) send(usageChunk(kind, head, this.usage));
      controller.enqueue(encoder.encode("data: [DONE]\n\n"));
      controller.close();
    };
    return new Response(body, {
      headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" },
    });
  }
}

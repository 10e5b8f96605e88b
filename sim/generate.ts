/** One generation request end to end: parse, tokenize, queue in the engine, answer or stream. */
import type { z } from "zod";
import type { Engine, SchedulingPolicy } from "./engine.ts";
import type { Faults } from "./faults.ts";
import { garbageResponse } from "./garbage.ts";
import {
  type ChatRequest,
  ChatRequestSchema,
  type CompletionRequest,
  CompletionRequestSchema,
  describeIssues,
  messageText,
} from "./schemas.ts";
import { errorResponse, type GenerationKind, type ResponseHead } from "./responses.ts";
import { Generation } from "./generation.ts";
import { renderChat, renderCompletion } from "./chat_template.ts";
import type { PromptTokenizer, PromptTokens } from "./tokens.ts";
import { mix32, naturalLength, outputPieces } from "./text.ts";
import { planToolCalls, ToolCallOutput } from "./tools.ts";

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
  /** vLLM's `--scheduling-policy`: a request's `priority` other than 0 needs `priority`. */
  schedulingPolicy: SchedulingPolicy;
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
    const chat = body as ChatRequest;
    const turns = chat.messages.map((m) => ({
      role: m.role,
      content: messageText(m),
      toolCalls: (m.tool_calls ?? []).map((call) => call.function),
    }));
    return tokenizer.tokenize(renderChat(turns, chat.tools?.length ? { tools: chat.tools } : {}));
  }
  const prompt = (body as CompletionRequest).prompt;
  if (typeof prompt === "string") return tokenizer.tokenize(renderCompletion(prompt));
  if (typeof prompt[0] === "string") return tokenizer.tokenize(renderCompletion(prompt[0]));
  return tokenizer.tokenizeIds(prompt as number[]);
}

/** What a request generates: its tokens' texts, and the calls they write if it calls tools. */
interface Output {
  /** The text of every token to generate. */
  pieces: string[];
  /** The last token ends the sequence (an end-of-sequence token), not max_tokens. */
  natural: boolean;
  /** The calls, when the turn makes some. */
  toolCalls: ToolCallOutput | undefined;
}

/**
 * A chat turn that calls tools writes its calls, cut at max_tokens or the room left; any other
 * writes seeded words, `requested` of them or a natural length.
 */
function outputOf(
  kind: GenerationKind,
  body: ChatRequest | CompletionRequest,
  limits: { seed: number; requested: number | null | undefined; room: number },
  tokenizer: PromptTokenizer,
): Output {
  const { seed, requested, room } = limits;
  const calls = kind === "chat" ? planToolCalls(body as ChatRequest, seed) : [];
  if (calls.length > 0) {
    const toolCalls = new ToolCallOutput(calls, (text) => tokenizer.pieces(text));
    const maxTokens = Math.min(requested ?? room, toolCalls.pieces.length);
    const pieces = toolCalls.pieces.slice(0, maxTokens);
    return { pieces, natural: maxTokens === toolCalls.pieces.length, toolCalls };
  }
  const maxTokens = requested ?? Math.min(naturalLength(seed), room);
  const pieces = outputPieces(seed, maxTokens, { opensAnswer: kind === "chat" });
  return { pieces, natural: requested === undefined, toolCalls: undefined };
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
  const priority = body.priority ?? 0;
  if (priority !== 0 && ctx.schedulingPolicy !== "priority") {
    // vLLM's own words (its processor raises a ValueError, answered as a 400).
    return errorResponse(400, `Got priority ${priority} but Priority scheduling is not enabled.`);
  }
  const garbage = ctx.faults.state.garbage;
  if (garbage !== "none") return garbageResponse(garbage, ctx.model);
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
  const { pieces, natural, toolCalls } = outputOf(
    kind,
    body,
    { seed, requested, room },
    ctx.tokenizer,
  );
  const maxTokens = pieces.length;
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
  // Stop strings end text; a tool call is written whole (or cut by max_tokens).
  const plan = { kind, head, pieces, stops: toolCalls ? [] : stops, natural, toolCalls };
  const run = new Generation(plan, ctx);
  ctx.engine.submit(
    {
      id: head.id,
      promptTokens: counted.tokens,
      blockHashes: counted.withOutput(pieces),
      maxTokens,
      endReason: natural ? "stop" : "length",
      priority,
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

/** `startSimulator`: one simulated vLLM replica behind an OpenAI-compatible HTTP server. */
import { Hono } from "hono";
import { type Clock, RealClock } from "./clock.ts";
import {
  DEFAULT_KV_TOKENS,
  DEFAULT_OFFLOAD_BANDWIDTH_BYTES_PER_S,
  Engine,
  type SchedulingPolicy,
} from "./engine.ts";
import { H100_LLAMA_8B, type LatencyModel } from "./latency.ts";
import { FaultPatchSchema, Faults } from "./faults.ts";
import { checkModel, handleGeneration, parseBody, type ReplicaContext } from "./generate.ts";
import { renderMetrics } from "./metrics.ts";
import { errorResponse } from "./responses.ts";
import { EmbeddingRequestSchema } from "./schemas.ts";
import { renderCompletion } from "./chat_template.ts";
import { createTokenizer, type TokenizerMode } from "./tokens.ts";
import { mix32 } from "./text.ts";

/** The default served model name. */
export const DEFAULT_SIM_MODEL = "llama-3.1-8b-sim";

/** Options of {@linkcode startSimulator}. */
export interface SimulatorOptions {
  /** Port to listen on; 0 picks a free one. @default 0 */
  port?: number;
  /** Interface to bind. @default "127.0.0.1" */
  hostname?: string;
  /** Served model name. @default "llama-3.1-8b-sim" */
  model?: string;
  /** Simulated ms per real ms. @default 1 */
  timeScale?: number;
  /** KV budget in tokens. @default 430_000 */
  kvTokens?: number;
  /** Tokens of the host KV tier (`--kv-offloading-size` in tokens). @default 0 (no tier) */
  offloadTokens?: number;
  /** Bandwidth of loads from the host KV tier, in bytes per second. @default 32e9 */
  offloadBandwidthBytesPerS?: number;
  /** Seeds output text and fault draws. @default 0 */
  seed?: number;
  /** `exact` (Llama 3 tokenizer) or `approx` (4 characters a token). @default "exact" */
  tokenizer?: TokenizerMode;
  /** Most sequences in a batch. @default 256 */
  maxNumSeqs?: number;
  /** Most tokens in a step. @default 8192 */
  maxNumBatchedTokens?: number;
  /** Longest prompt plus output. @default 131072 */
  maxModelLen?: number;
  /**
   * vLLM's `--scheduling-policy`: `priority` serves waiting requests by their `priority` field
   * (lower first), `fcfs` by arrival and answers 400 to a request with a priority other than 0.
   * @default "fcfs"
   */
  schedulingPolicy?: SchedulingPolicy;
  /** Real ms during which `/health` and requests answer 503 (model loading). @default 0 */
  startupDelayMs?: number;
  /** Fraction of generation requests answered 500. @default 0 */
  errorRate?: number;
  /** Fraction of generation requests that never answer. @default 0 */
  hangRate?: number;
  /** Fraction of streams cut after `cutAfterTokens` tokens. @default 0 */
  cutRate?: number;
  /** Tokens sent before a cut. @default 1 */
  cutAfterTokens?: number;
  /** Extra simulated ms per engine step (slow tokens). @default 0 */
  slowTokenMs?: number;
  /** The engine's clock; a scaled real clock unless given. */
  clock?: Clock;
  /**
   * Overrides of the latency model, e.g. `{ prefillFixedMs: 30 }` for an engine without CUDA
   * graphs (calibration.md's ~25 ms per prefill batch). @default H100_LLAMA_8B
   */
  latency?: Partial<LatencyModel>;
}

/** A running simulated replica. */
export interface SimServer {
  /** Base URL, e.g. `http://127.0.0.1:5901`. */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /** The served model name. */
  readonly model: string;
  /** Its engine (for in-process inspection). */
  readonly engine: Engine;
  /** Its faults (change them in-process or by `POST /admin/faults`). */
  readonly faults: Faults;
  /** Responses still open (a body being generated, a stream, a hang): 0 once all have ended. */
  readonly openResponses: number;
  /** Stops serving: ends streams in flight, stops the engine, closes the listener. */
  close(): Promise<void>;
}

const EMBEDDING_DIMS = 4096;

function embedding(text: string, seed: number): number[] {
  const v = new Array<number>(EMBEDDING_DIMS);
  let norm = 0;
  let h = seed;
  for (let i = 0; i < text.length; i++) h = mix32(h, text.charCodeAt(i));
  for (let i = 0; i < EMBEDDING_DIMS; i++) {
    const x = mix32(h, i) / 0x8000_0000 - 1;
    v[i] = x;
    norm += x * x;
  }
  const scale = 1 / Math.sqrt(norm);
  return v.map((x) => x * scale);
}

function buildApp(ctx: ReplicaContext, created: number, timeScale: number): Hono {
  const app = new Hono();
  // A frozen replica holds everything but its admin endpoints (which must clear the fault).
  app.use(async (c, next) => {
    if (!c.req.path.startsWith("/admin/")) await ctx.faults.thawed(c.req.raw.signal);
    await next();
  });
  app.get(
    "/health",
    () =>
      ctx.faults.loading
        ? new Response(null, { status: 503 })
        : new Response(null, { status: 200 }),
  );
  app.get("/ping", () => new Response(null, { status: ctx.faults.loading ? 503 : 200 }));
  app.get("/version", (c) => c.json({ version: "0.11.0-sim" }));
  app.get("/metrics", () =>
    new Response(renderMetrics(ctx.engine, ctx.model, 1 / timeScale), {
      headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
    }));
  app.get("/v1/models", (c) =>
    c.json({
      object: "list",
      data: [{
        id: ctx.model,
        object: "model",
        created,
        owned_by: "vllm",
        root: ctx.model,
        parent: null,
        max_model_len: ctx.maxModelLen,
        permission: [],
      }],
    }));
  app.post("/v1/chat/completions", (c) => handleGeneration("chat", c.req.raw, ctx));
  app.post("/v1/completions", (c) => handleGeneration("completion", c.req.raw, ctx));
  app.post("/v1/embeddings", async (c) => {
    if (ctx.faults.loading) return errorResponse(503, "The model is still loading: retry later");
    const body = await parseBody(c.req.raw, EmbeddingRequestSchema);
    if (body instanceof Response) return body;
    const wrong = checkModel(body.model, ctx);
    if (wrong) return wrong;
    const inputs = typeof body.input === "string" ? [body.input] : body.input;
    let promptTokens = 0;
    const data = await Promise.all(inputs.map((input, index) => {
      const counted = ctx.tokenizer.tokenize(renderCompletion(input));
      promptTokens += counted.tokens;
      return new Promise<Record<string, unknown>>((resolve) => {
        ctx.engine.submit(
          {
            id: `embd-${ctx.nextId()}`,
            promptTokens: counted.tokens,
            blockHashes: counted.blockHashes,
            maxTokens: 0,
          },
          {
            onFinish: () =>
              resolve({ index, object: "embedding", embedding: embedding(input, ctx.seed) }),
          },
        );
      });
    }));
    return c.json({
      id: `embd-${ctx.nextId()}`,
      object: "list",
      created: Math.floor(Date.now() / 1000),
      model: ctx.model,
      data,
      usage: {
        prompt_tokens: promptTokens,
        total_tokens: promptTokens,
        completion_tokens: 0,
        prompt_tokens_details: null,
      },
    });
  });
  app.get("/admin/faults", (c) => c.json(ctx.faults.toJSON()));
  app.post("/admin/faults", async (c) => {
    const patch = await parseBody(c.req.raw, FaultPatchSchema);
    if (patch instanceof Response) return patch;
    ctx.faults.apply(patch);
    ctx.engine.extraStepMs = ctx.faults.state.slowTokenMs;
    return c.json(ctx.faults.toJSON());
  });
  app.delete("/admin/faults", (c) => {
    ctx.faults.clear();
    ctx.engine.extraStepMs = 0;
    return c.json(ctx.faults.toJSON());
  });
  app.notFound(() =>
    errorResponse(404, "Not found: see /v1/models, /v1/chat/completions, /v1/completions")
  );
  return app;
}

/**
 * Starts one simulated replica.
 * @example
 * ```ts
 * const sim = await startSimulator({ port: 0, timeScale: 10 });
 * console.log(sim.url); // http://127.0.0.1:NNNNN
 * await sim.close();
 * ```
 */
export async function startSimulator(options: SimulatorOptions = {}): Promise<SimServer> {
  const timeScale = options.timeScale ?? 1;
  const clock = options.clock ?? new RealClock({ timeScale });
  const engine = new Engine(clock, {
    kvTokens: options.kvTokens ?? DEFAULT_KV_TOKENS,
    offloadTokens: options.offloadTokens ?? 0,
    offloadBandwidthBytesPerS: options.offloadBandwidthBytesPerS ??
      DEFAULT_OFFLOAD_BANDWIDTH_BYTES_PER_S,
    maxNumSeqs: options.maxNumSeqs ?? 256,
    maxNumBatchedTokens: options.maxNumBatchedTokens ?? 8192,
    schedulingPolicy: options.schedulingPolicy ?? "fcfs",
    metricsTimeScale: timeScale,
    latency: { ...H100_LLAMA_8B, ...options.latency },
  });
  const seed = options.seed ?? 0;
  const faults = new Faults({
    errorRate: options.errorRate ?? 0,
    hangRate: options.hangRate ?? 0,
    cutRate: options.cutRate ?? 0,
    cutAfterTokens: options.cutAfterTokens ?? 1,
    slowTokenMs: options.slowTokenMs ?? 0,
    loadingUntil: performance.now() + (options.startupDelayMs ?? 0),
  }, seed);
  engine.extraStepMs = faults.state.slowTokenMs;
  let counter = 0;
  const prefix = (mix32(seed, Date.now() & 0x7fffffff) >>> 0).toString(16).padStart(8, "0");
  const ctx: ReplicaContext = {
    engine,
    tokenizer: await createTokenizer(options.tokenizer ?? "exact"),
    faults,
    model: options.model ?? DEFAULT_SIM_MODEL,
    seed,
    maxModelLen: options.maxModelLen ?? 131_072,
    schedulingPolicy: options.schedulingPolicy ?? "fcfs",
    active: new Set(),
    nextId: () => `${prefix}${(counter++).toString(16).padStart(8, "0")}`,
  };
  const app = buildApp(ctx, Math.floor(Date.now() / 1000), timeScale);
  const server = Deno.serve({
    port: options.port ?? 0,
    hostname: options.hostname ?? "127.0.0.1",
    onListen: () => {},
  }, app.fetch);
  const port = server.addr.port;
  const host = server.addr.hostname.includes(":")
    ? `[${server.addr.hostname}]`
    : server.addr.hostname;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    model: ctx.model,
    engine,
    faults,
    get openResponses() {
      return ctx.active.size;
    },
    close() {
      closed ??= (async () => {
        engine.close();
        for (const cleanup of [...ctx.active]) cleanup();
        await server.shutdown();
      })();
      return closed;
    },
  };
}

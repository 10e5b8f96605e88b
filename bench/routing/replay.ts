/** Trace replay: sends a trace's requests at their (scaled) arrival times as streaming chat requests. */
import { type ReplayClient, streamClient } from "./stream_client.ts";
import { renderChat } from "../../sim/mod.ts";
import { conversations } from "./trace.ts";
import { promptText, type TraceRequest } from "../../sim/mod.ts";
import { mulberry32 } from "../../sim/mod.ts";

/** Characters per token of the simulator's approximate tokenizer (and of the trace's blocks). */
export const CHARS_PER_TOKEN = 4;
/** Tokens per trace block. */
export const BLOCK_TOKENS = 512;

/** What became of one request. */
export interface RequestResult {
  /** Position in the trace. */
  index: number;
  /** When it was sent, in ms from the start of the replay. */
  sentMs: number;
  /** Time to the first content token, in ms; undefined if none came. */
  ttftMs: number | undefined;
  /** Time to the end of the stream, in ms; undefined when it failed. */
  e2eMs: number | undefined;
  /** Tokens generated (the usage report, or the content chunks counted). */
  outputTokens: number;
  /** The backend that served it (gateway header, or the replica sent to directly). */
  backend: string | undefined;
  /** Why it failed; undefined when it succeeded. */
  error: string | undefined;
  /** The gateway's estimate of the replica's cached prompt tokens (`x-turnpike-cached-estimate`). */
  predictedCachedTokens?: number;
  /** What the replica reported: `usage.prompt_tokens_details.cached_tokens`. */
  cachedTokens?: number;
  /** `usage.prompt_tokens`. */
  promptTokens?: number;
}

/** Progress counters, reported while the replay runs. */
export interface ReplayProgress {
  total: number;
  sent: number;
  done: number;
  failed: number;
}

/** Where a replay sends its requests. */
export type ReplayTarget =
  | {
    kind: "gateway";
    url: string;
    /** More gateways: request i goes to the (i mod n)-th of `url` and these. */
    alternates?: readonly string[];
  }
  | { kind: "direct"; urls: readonly string[]; seed: number };

/** Options of {@linkcode replayTrace}. */
export interface ReplayOptions {
  /** The gateway, or the replicas to pick from at random (the baseline). */
  target: ReplayTarget;
  /** Served model name. */
  model: string;
  /** Trace ms per replay ms. */
  timeScale: number;
  /** Header carrying the session id. @default "X-Session-ID" */
  sessionHeader?: string;
  /** Called every `progressEveryMs` and at the end. */
  onProgress?: (progress: ReplayProgress) => void;
  /** @default 250 */
  progressEveryMs?: number;
  /** Per-request timeout. @default 600_000 */
  timeoutMs?: number;
  /** The load generator (see `stream_client.ts`). @default "lean" */
  client?: ReplayClient;
}

/** Everything a replay measured. */
export interface ReplayResult {
  requests: RequestResult[];
  /** Gaps between successive content chunks of every stream, in ms. */
  itlMs: number[];
  /** From the first send to the last stream's end, in ms. */
  durationMs: number;
}

/** Characters the simulator's Llama 3.1 chat template puts before a lone user message's text. */
export function chatTemplateChars(): number {
  return renderChat([{ role: "user", content: "\u0000" }]).indexOf("\u0000");
}

/**
 * Replays `trace`: request i goes out `timestamp / timeScale` ms after the start as a streaming
 * chat completion of one user message (its hash ids' text, `input_length` tokens with the chat
 * template), `max_tokens` = `output_length`, and the conversation's session id in the session
 * header. Resolves when every stream has ended.
 */
export async function replayTrace(
  trace: readonly TraceRequest[],
  options: ReplayOptions,
): Promise<ReplayResult> {
  const timeoutMs = options.timeoutMs ?? 600_000;
  const header = options.sessionHeader ?? "X-Session-ID";
  const sessions = conversations(trace);
  const textOptions = {
    blockChars: BLOCK_TOKENS * CHARS_PER_TOKEN,
    charsPerToken: CHARS_PER_TOKEN,
    templateChars: chatTemplateChars(),
  };
  const target = options.target;
  const kind = options.client ?? "lean";
  const clients =
    (target.kind === "gateway" ? [target.url, ...(target.alternates ?? [])] : target.urls)
      .map((u) => streamClient(kind, u, timeoutMs));
  const random = mulberry32(target.kind === "direct" ? target.seed : 0);
  const progress: ReplayProgress = { total: trace.length, sent: 0, done: 0, failed: 0 };
  const results: RequestResult[] = [];
  const itlMs: number[] = [];
  const report = () => options.onProgress?.({ ...progress });
  const ticker = setInterval(report, options.progressEveryMs ?? 250);

  async function send(index: number, start: number): Promise<void> {
    const r = trace[index]!;
    const pick = target.kind === "gateway"
      ? index % clients.length
      : Math.floor(random() * clients.length);
    const result: RequestResult = {
      index,
      sentMs: performance.now() - start,
      ttftMs: undefined,
      e2eMs: undefined,
      outputTokens: 0,
      backend: target.kind === "direct" ? target.urls[pick] : undefined,
      error: undefined,
    };
    results.push(result);
    const t0 = performance.now();
    try {
      let last: number | undefined;
      let chunks = 0;
      const answer = await clients[pick]!({
        model: options.model,
        content: promptText(r, textOptions),
        maxTokens: r.output_length,
        headers: { [header]: `conversation-${sessions[index]}` },
      }, (now) => {
        if (last === undefined) result.ttftMs = now - t0;
        else itlMs.push(now - last);
        last = now;
        chunks++;
      }, (headers) => {
        // Known also of a stream that fails later: its failure counts against that replica.
        result.backend ??= headers.get("x-turnpike-backend") ?? undefined;
        const estimate = headers.get("x-turnpike-cached-estimate");
        if (estimate !== null && Number.isFinite(Number(estimate))) {
          result.predictedCachedTokens = Number(estimate);
        }
      });
      const usageTokens = answer.usage?.completionTokens;
      if (answer.usage) {
        result.promptTokens = answer.usage.promptTokens;
        if (typeof answer.usage.cachedTokens === "number") {
          result.cachedTokens = answer.usage.cachedTokens;
        }
      }
      result.outputTokens = usageTokens ?? chunks;
      result.e2eMs = performance.now() - t0;
      if (result.ttftMs === undefined) throw new Error("The stream ended without a token");
      progress.done++;
    } catch (error) {
      result.error = error instanceof Error ? error.message : String(error);
      result.e2eMs = undefined;
      progress.failed++;
    }
  }

  const start = performance.now();
  const inFlight: Promise<void>[] = [];
  try {
    for (let i = 0; i < trace.length; i++) {
      const due = trace[i]!.timestamp / options.timeScale;
      const wait = due - (performance.now() - start);
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      inFlight.push(send(i, start));
      progress.sent++;
    }
    await Promise.all(inFlight);
  } finally {
    clearInterval(ticker);
  }
  report();
  const durationMs = performance.now() - start;
  results.sort((a, b) => a.index - b.index);
  return { requests: results, itlMs, durationMs };
}

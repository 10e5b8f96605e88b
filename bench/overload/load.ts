/**
 * The overload benchmark's load generator: agentic streaming requests with long prompts, sent
 * open-loop (Poisson arrivals at a rate) or closed-loop (clients with no think time, to find the
 * fleet's capacity), each request's fate recorded as the client saw it.
 */
import { parseArgs } from "node:util";

/** One request as the client saw it; times in ms, `sentMs` from the start of the run. */
export interface RequestSample {
  sentMs: number;
  /** HTTP status; 0 when no answer came (connection error, or the client gave up). */
  status: number;
  /** Response head, from `sentMs`. */
  headMs: number;
  /** First body bytes of a 200 stream (the first token), from `sentMs`. */
  ttftMs: number | undefined;
  /** When it ended, from the start of the run. */
  endMs: number;
  /** Tokens generated (the usage chunk's completion_tokens). */
  outputTokens: number;
  /** Whether a refusal carried a Retry-After header. */
  retryAfter: boolean;
  /** Whether a refusal's body is OpenAI-shaped: `{"error":{"message","type",...}}`. */
  openaiError: boolean;
  /** What went wrong: undefined for a 200 stream that ended with `[DONE]`. */
  error: string | undefined;
}

/** How requests are sent. */
export type LoadShape =
  | { kind: "open"; ratePerS: number; seed: number }
  | { kind: "closed"; clients: number };

/** Settings of {@linkcode sendLoad}. */
export interface LoadOptions {
  /** The gateway's chat completions URL. */
  url: string;
  model: string;
  shape: LoadShape;
  /** Seconds requests are sent for. */
  durationS: number;
  /** Seconds requests still open after `durationS` may take before the client gives up on them. */
  graceS: number;
  /** Prompt tokens of each request (4 characters a token, as the simulator's approx tokenizer counts). */
  promptTokens: number;
  /** Tokens each request asks for. */
  maxTokens: number;
}

/** What one run measured. */
export interface LoadRun {
  samples: RequestSample[];
  /** Requests the client gave up on at the end of the grace. */
  abandoned: number;
}

/** The error a request got when the client gave up on it at the end of the grace. */
export const GAVE_UP = "the client gave up at the end of the grace";

const WORDS = [
  "repository",
  "function",
  "returns",
  "the",
  "config",
  "value",
  "test",
  "failed",
  "because",
  "parser",
  "reads",
  "tokens",
  "from",
  "stream",
  "and",
  "writes",
];

/** Deterministic filler text of about `chars` characters. */
export function fillerText(chars: number): string {
  const out: string[] = [];
  let length = 0;
  for (let i = 0; length < chars; i++) {
    const word = WORDS[(i * 7 + (i >> 3)) % WORDS.length]!;
    out.push(word);
    length += word.length + 1;
  }
  return out.join(" ").slice(0, chars);
}

/** A seeded uniform generator in [0, 1) (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Arrival times in ms over `durationS` of a Poisson process at `ratePerS`. */
export function poissonArrivals(ratePerS: number, durationS: number, seed: number): number[] {
  const random = seededRandom(seed);
  const times: number[] = [];
  for (let t = 0;;) {
    t += -Math.log(1 - random()) / ratePerS * 1000;
    if (t >= durationS * 1000) return times;
    times.push(t);
  }
}

const decoder = new TextDecoder();

/** Whether `text` is an OpenAI-shaped error body. */
export function isOpenAiError(text: string): boolean {
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown; type?: unknown } };
    return typeof body.error?.message === "string" && typeof body.error?.type === "string";
  } catch {
    return false;
  }
}

async function oneRequest(
  url: string,
  body: string,
  t0: number,
  signal: AbortSignal,
): Promise<RequestSample> {
  const sent = performance.now();
  const sample: RequestSample = {
    sentMs: sent - t0,
    status: 0,
    headMs: NaN,
    ttftMs: undefined,
    endMs: NaN,
    outputTokens: 0,
    retryAfter: false,
    openaiError: false,
    error: undefined,
  };
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      signal,
    });
    sample.status = res.status;
    sample.headMs = performance.now() - sent;
    if (res.status !== 200) {
      const text = await res.text();
      sample.retryAfter = res.headers.has("retry-after");
      sample.openaiError = isOpenAiError(text);
      sample.error = `HTTP ${res.status}: ${text.slice(0, 200)}`;
    } else {
      // The usage chunk and [DONE] are in the last bytes; nothing before them is decoded.
      let tail = "";
      for await (const chunk of res.body!) {
        sample.ttftMs ??= performance.now() - sent;
        tail = (tail + decoder.decode(chunk.subarray(Math.max(0, chunk.length - 1024)))).slice(
          -1024,
        );
      }
      const tokens = /"completion_tokens":(\d+)/.exec(tail);
      sample.outputTokens = tokens ? Number(tokens[1]) : 0;
      if (!tail.includes("data: [DONE]")) sample.error = "the stream ended without [DONE]";
      else if (/"error"\s*:/.test(tail)) sample.error = "the stream ended with an error event";
    }
  } catch (e) {
    sample.error = signal.aborted ? GAVE_UP : `connection: ${(e as Error).message}`;
  }
  sample.endMs = performance.now() - t0;
  return sample;
}

/** Sends the load of `options` and records every request; requests left at the end of the grace are aborted. */
export async function sendLoad(options: LoadOptions): Promise<LoadRun> {
  const filler = fillerText(options.promptTokens * 4);
  const bodyOf = (i: number) =>
    JSON.stringify({
      model: options.model,
      // A distinct first line: no request shares a prefix with another, so none hits the cache.
      messages: [
        { role: "system", content: `Agent ${i}: you are a coding agent. ${filler}` },
        { role: "user", content: "Go on with the task." },
      ],
      max_tokens: options.maxTokens,
      stream: true,
      stream_options: { include_usage: true },
    });
  const samples: RequestSample[] = [];
  const pending = new Set<Promise<void>>();
  const giveUp = new AbortController();
  const t0 = performance.now();
  const endAt = t0 + options.durationS * 1000;
  let index = 0;
  const send = () => {
    const p = oneRequest(options.url, bodyOf(index++), t0, giveUp.signal).then((s) => {
      samples.push(s);
      pending.delete(p);
    });
    pending.add(p);
    return p;
  };
  if (options.shape.kind === "open") {
    for (
      const at of poissonArrivals(options.shape.ratePerS, options.durationS, options.shape.seed)
    ) {
      const wait = t0 + at - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      send();
    }
  } else {
    const client = async () => {
      while (performance.now() < endAt) await send();
    };
    for (let i = 0; i < options.shape.clients; i++) client();
  }
  const deadline = endAt + options.graceS * 1000;
  for (;;) {
    const left = deadline - performance.now();
    if (left <= 0 && pending.size > 0) {
      giveUp.abort();
      await Promise.all(pending);
      break;
    }
    if (pending.size === 0 && (options.shape.kind === "open" || performance.now() >= endAt)) break;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.race(pending),
      new Promise((r) => timer = setTimeout(r, Math.max(1, Math.min(left, 1_000)))),
    ]);
    clearTimeout(timer);
  }
  return { samples, abandoned: samples.filter((s) => s.error === GAVE_UP).length };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      url: { type: "string" },
      model: { type: "string" },
      rate: { type: "string" },
      clients: { type: "string" },
      seed: { type: "string" },
      duration: { type: "string" },
      grace: { type: "string" },
      "prompt-tokens": { type: "string" },
      "max-tokens": { type: "string" },
    },
  });
  if (values.url === undefined || values.model === undefined) {
    throw new Error("Pass --url URL and --model NAME");
  }
  const shape: LoadShape = values.rate !== undefined
    ? { kind: "open", ratePerS: Number(values.rate), seed: Number(values.seed ?? 1) }
    : { kind: "closed", clients: Number(values.clients ?? 8) };
  const run = await sendLoad({
    url: values.url,
    model: values.model,
    shape,
    durationS: Number(values.duration ?? 10),
    graceS: Number(values.grace ?? 10),
    promptTokens: Number(values["prompt-tokens"] ?? 15_000),
    maxTokens: Number(values["max-tokens"] ?? 64),
  });
  console.log(JSON.stringify(run));
}

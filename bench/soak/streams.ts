/**
 * The soak benchmark's load generator: `concurrency` long-lived streaming chat completions held
 * open for the whole run, each replaced at once when it ends. Every `directEvery`-th stream goes
 * straight to a replica instead of through the gateway, as a reference at the same load.
 */
import { parseArgs } from "node:util";

/** One stream as the generator saw it; times in ms from the start of the run. */
export interface StreamSample {
  /** Sent straight to a replica, not through the gateway. */
  direct: boolean;
  startMs: number;
  /** Response head received, from the start of the stream. */
  headMs: number;
  /** First body bytes (the first token), from the start of the stream. */
  ttftMs: number;
  /** When it ended, from the start of the run. */
  endMs: number;
  /** The upstream's share of the head as the gateway reports it (`server-timing: upstream;dur`). */
  upstreamMs: number | undefined;
  /** Undefined for a stream that ended with `[DONE]` after a 200; else what went wrong. */
  error: string | undefined;
}

/** Settings of {@linkcode holdStreams}. */
export interface StreamsOptions {
  /** The gateway's chat completions URL. */
  gatewayUrl: string;
  /** The replicas' chat completions URLs, for the direct streams. */
  directUrls: readonly string[];
  /** Streams held open at once. */
  concurrency: number;
  /** Seconds streams are started for (in-flight ones then run to their end). */
  durationS: number;
  /** Seconds over which the first streams are opened, evenly. */
  rampS: number;
  /** Served model name. */
  model: string;
  /** Tokens each stream asks for. */
  maxTokens: number;
  /** Every this many-th stream slot goes direct; 0 for none. */
  directEvery: number;
  /**
   * Most ms a slot waits, uniformly drawn, before replacing a finished stream. Streams end on a
   * replica's step, so replacements sent at once all arrive at the same phase of its step clock;
   * the draw spreads them over it, alike for both paths. @default 0
   */
  jitterMs?: number;
}

/** What one run measured. */
export interface StreamsResult {
  samples: StreamSample[];
  /** Seconds from the first stream started to the last ended. */
  wallS: number;
}

const DONE = new TextEncoder().encode("data: [DONE]");

/** Whether `tail` (the last bytes of a body) holds the `[DONE]` event. */
function endsWithDone(tail: Uint8Array): boolean {
  outer: for (let i = tail.length - DONE.length; i >= 0; i--) {
    for (let j = 0; j < DONE.length; j++) if (tail[i + j] !== DONE[j]) continue outer;
    return true;
  }
  return false;
}

/** The `upstream;dur=` figure of a `server-timing` header, in ms. */
export function upstreamDurMs(header: string | null): number | undefined {
  const match = /(?:^|,)\s*upstream;dur=([\d.]+)/.exec(header ?? "");
  return match ? Number(match[1]) : undefined;
}

async function oneStream(
  url: string,
  body: string,
  direct: boolean,
  t0: number,
): Promise<StreamSample> {
  const start = performance.now();
  let headMs = NaN;
  let ttftMs = NaN;
  let upstreamMs: number | undefined;
  let error: string | undefined;
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    headMs = performance.now() - start;
    upstreamMs = upstreamDurMs(res.headers.get("server-timing"));
    if (res.status !== 200) {
      error = `HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`;
    } else {
      // Only the last bytes are kept, to find [DONE] without decoding every event.
      let tail = new Uint8Array(0);
      for await (const chunk of res.body!) {
        if (Number.isNaN(ttftMs)) ttftMs = performance.now() - start;
        if (chunk.length >= 64) {
          tail = chunk.subarray(chunk.length - 64);
        } else {
          const joined = new Uint8Array(Math.min(64, tail.length + chunk.length));
          const keep = tail.subarray(tail.length - (joined.length - chunk.length));
          joined.set(keep);
          joined.set(chunk, keep.length);
          tail = joined;
        }
      }
      if (!endsWithDone(tail)) error = "the stream ended without [DONE]";
    }
  } catch (e) {
    error = `connection: ${(e as Error).message}`;
  }
  return {
    direct,
    startMs: start - t0,
    headMs,
    ttftMs,
    endMs: performance.now() - t0,
    upstreamMs,
    error,
  };
}

/**
 * Holds `concurrency` streams for `durationS` seconds (opened evenly over `rampS`), replacing each
 * as it ends, and waits for the last ones to end.
 */
export async function holdStreams(options: StreamsOptions): Promise<StreamsResult> {
  const samples: StreamSample[] = [];
  const t0 = performance.now();
  const endAt = t0 + options.durationS * 1000;
  let sent = 0;
  const slot = async (index: number) => {
    await new Promise((r) => setTimeout(r, options.rampS * 1000 * index / options.concurrency));
    const direct = options.directEvery > 0 && options.directUrls.length > 0 &&
      index % options.directEvery === 0;
    for (let turn = 0; performance.now() < endAt; turn++) {
      const jitter = turn === 0 ? 0 : Math.random() * (options.jitterMs ?? 0);
      if (jitter > 0) await new Promise((r) => setTimeout(r, jitter));
      const url = direct
        ? options.directUrls[(index / options.directEvery + turn) % options.directUrls.length]!
        : options.gatewayUrl;
      // A distinct first line per stream: no prefix is shared, so routing follows load.
      const body = JSON.stringify({
        model: options.model,
        messages: [{ role: "user", content: `Stream ${index}.${turn} (${sent++}): keep talking.` }],
        max_tokens: options.maxTokens,
        stream: true,
      });
      samples.push(await oneStream(url, body, direct, t0));
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, (_, i) => slot(i)));
  return { samples, wallS: (performance.now() - t0) / 1000 };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      gateway: { type: "string" },
      direct: { type: "string", multiple: true },
      concurrency: { type: "string" },
      duration: { type: "string" },
      ramp: { type: "string" },
      model: { type: "string" },
      "max-tokens": { type: "string" },
      "direct-every": { type: "string" },
      "jitter-ms": { type: "string" },
    },
  });
  if (values.gateway === undefined || values.model === undefined) {
    throw new Error("Pass --gateway URL and --model NAME");
  }
  const result = await holdStreams({
    gatewayUrl: values.gateway,
    directUrls: values.direct ?? [],
    concurrency: Number(values.concurrency ?? 10),
    durationS: Number(values.duration ?? 5),
    rampS: Number(values.ramp ?? 1),
    model: values.model,
    maxTokens: Number(values["max-tokens"] ?? 40),
    directEvery: Number(values["direct-every"] ?? 0),
    jitterMs: Number(values["jitter-ms"] ?? 0),
  });
  console.log(JSON.stringify(result));
}

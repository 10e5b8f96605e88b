/** Replays a trace over HTTP against running replicas, as an agent fleet would, and measures it. */
import { summarize, type Summary } from "./stats.ts";
import { promptText, type TraceRequest } from "./trace.ts";
import { BLOCK_TOKENS } from "./kv_cache.ts";
import { APPROX_CHARS_PER_TOKEN } from "./tokens.ts";

/** Options of {@linkcode replayTraceHttp}. */
export interface HttpReplayOptions {
  /** Replica base URLs; a request goes to the one its first hash id picks. */
  urls: readonly string[];
  /** Served model name. */
  model: string;
  /** The replicas' time scale: trace ms / scale = real ms. */
  timeScale: number;
  /** Stop sending after this much trace time (simulated ms). @default whole trace */
  traceMs?: number;
}

/** What an HTTP replay saw from the client side, in real ms. */
export interface HttpReplayReport {
  /** Requests sent. */
  sent: number;
  /** Streams that ended with `[DONE]`. */
  completed: number;
  /** Requests refused with a 400 (longer than the model's context). */
  rejected: number;
  /** Requests that failed otherwise. */
  failed: number;
  /** Real ms from the first send to the last stream's end. */
  realMs: number;
  /** How late requests were sent against the schedule. */
  sendLagMs: Summary;
  /** Time to the first content byte. */
  ttftMs: Summary;
}

/** Sends `records` on their schedule (scaled) as streaming chats and waits for every answer. */
export async function replayTraceHttp(
  records: readonly TraceRequest[],
  options: HttpReplayOptions,
): Promise<HttpReplayReport> {
  const todo = records.filter((r) => r.timestamp <= (options.traceMs ?? Infinity));
  const textOptions = {
    blockChars: BLOCK_TOKENS * APPROX_CHARS_PER_TOKEN,
    charsPerToken: APPROX_CHARS_PER_TOKEN,
  };
  const sendLags: number[] = [];
  const ttfts: number[] = [];
  let completed = 0;
  let failed = 0;
  let rejected = 0;
  const start = performance.now();
  const one = async (record: TraceRequest): Promise<void> => {
    const due = start + record.timestamp / options.timeScale;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const sentAt = performance.now();
    sendLags.push(sentAt - due);
    const url = options.urls[(record.hash_ids[0] ?? 0) % options.urls.length]!;
    try {
      const response = await fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: options.model,
          stream: true,
          stream_options: { include_usage: true },
          max_tokens: record.output_length,
          messages: [{ role: "user", content: promptText(record, textOptions) }],
        }),
      });
      if (!response.ok || !response.body) {
        await response.body?.cancel();
        if (response.status === 400) rejected++;
        else failed++;
        return;
      }
      const decoder = new TextDecoder();
      let tail = "";
      let first = true;
      for await (const bytes of response.body) {
        if (first) {
          ttfts.push(performance.now() - sentAt);
          first = false;
        }
        tail = (tail + decoder.decode(bytes, { stream: true })).slice(-64);
      }
      if (tail.endsWith("data: [DONE]\n\n")) completed++;
      else failed++;
    } catch {
      failed++;
    }
  };
  await Promise.all(todo.map(one));
  return {
    sent: todo.length,
    completed,
    rejected,
    failed,
    realMs: performance.now() - start,
    sendLagMs: summarize(sendLags),
    ttftMs: summarize(ttfts),
  };
}

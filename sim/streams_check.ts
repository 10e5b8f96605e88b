/** Holds many concurrent SSE streams against one replica over HTTP and reports how it coped. */
import { startSimulator } from "./server.ts";

/** Options of {@linkcode measureStreams}. */
export interface StreamsOptions {
  /** Time scale of the replica. @default 10 */
  timeScale?: number;
  /** Tokens each stream asks for. @default 64 */
  maxTokens?: number;
  /** Prompt characters per stream (approx tokenizer). @default 2000 */
  promptChars?: number;
}

/** What {@linkcode measureStreams} saw. */
export interface StreamsReport {
  /** Streams opened. */
  streams: number;
  /** Streams that ended with `data: [DONE]` and every token. */
  completed: number;
  /** Streams that failed. */
  failed: number;
  /** Most sequences running at once in the engine. */
  peakRunning: number;
  /** Most streams open at once on the client side. */
  peakOpen: number;
  /** Largest step lag, simulated ms. */
  stepLagMaxMs: number;
  /** Real ms from the first request to the last stream's end. */
  realMs: number;
}

/** Opens `count` streaming chat requests at once against a fresh in-process replica. */
export async function measureStreams(
  count: number,
  options: StreamsOptions = {},
): Promise<StreamsReport> {
  const sim = await startSimulator({ timeScale: options.timeScale ?? 10, tokenizer: "approx" });
  const maxTokens = options.maxTokens ?? 64;
  let open = 0;
  let peakOpen = 0;
  let peakRunning = 0;
  const sampler = setInterval(() => {
    peakRunning = Math.max(peakRunning, sim.engine.numRunning);
  }, 5);
  const start = performance.now();
  const one = async (i: number): Promise<boolean> => {
    const response = await fetch(`${sim.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: sim.model,
        stream: true,
        max_tokens: maxTokens,
        messages: [{
          role: "user",
          content: `stream ${i} ` + "x".repeat(options.promptChars ?? 2000),
        }],
      }),
    });
    open++;
    peakOpen = Math.max(peakOpen, open);
    try {
      const text = await response.text();
      const chunks = text.split("\n\n").filter((l) => l.startsWith("data: {")).length;
      return response.ok && text.endsWith("data: [DONE]\n\n") && chunks === maxTokens + 1;
    } finally {
      open--;
    }
  };
  const results = await Promise.allSettled(Array.from({ length: count }, (_, i) => one(i)));
  const realMs = performance.now() - start;
  clearInterval(sampler);
  const completed = results.filter((r) => r.status === "fulfilled" && r.value).length;
  const report: StreamsReport = {
    streams: count,
    completed,
    failed: count - completed,
    peakRunning,
    peakOpen,
    stepLagMaxMs: sim.engine.lag.maxMs,
    realMs,
  };
  await sim.close();
  return report;
}

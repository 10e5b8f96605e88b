/** The proxy benchmark's zero-latency backend: answers chat completions at once, as JSON or as an SSE stream. */
import { parseArgs } from "node:util";

const encoder = new TextEncoder();
const JSON_BODY = encoder.encode(JSON.stringify({
  id: "chatcmpl-bench",
  object: "chat.completion",
  created: 0,
  model: "bench",
  choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 8, completion_tokens: 1, total_tokens: 9 },
}));
/** Chunks of one SSE answer: ten content events, a usage event and `[DONE]`. */
const SSE_CHUNKS = [
  ...Array.from(
    { length: 10 },
    (_, i) =>
      encoder.encode(
        `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"t${i}"}}]}\n\n`,
      ),
  ),
  encoder.encode(
    'data: {"id":"c","choices":[],"usage":{"prompt_tokens":8,"completion_tokens":10,"total_tokens":18}}\n\n',
  ),
  encoder.encode("data: [DONE]\n\n"),
];

/** Handles one request of the zero-latency backend. */
export async function upstreamHandler(request: Request): Promise<Response> {
  const path = new URL(request.url).pathname;
  if (request.method === "GET") {
    if (path === "/health") return new Response(null, { status: 200 });
    if (path === "/metrics") {
      return new Response(
        "vllm:num_requests_running 0\nvllm:num_requests_waiting 0\nvllm:kv_cache_usage_perc 0\n",
      );
    }
    return new Response(null, { status: 404 });
  }
  const body = await request.text();
  if (!body.includes('"stream":true')) {
    return new Response(JSON_BODY, { headers: { "content-type": "application/json" } });
  }
  let i = 0;
  // One chunk per pull: each goes out as its own write, as a replica's tokens do.
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = SSE_CHUNKS[i++];
      if (chunk) controller.enqueue(chunk);
      else controller.close();
    },
  }, { highWaterMark: 0 });
  return new Response(stream, {
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
  });
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { port: { type: "string" } } });
  Deno.serve({
    hostname: "127.0.0.1",
    port: Number(values.port ?? "0"),
    onListen: (addr) => console.log(`listening ${addr.port}`),
  }, upstreamHandler);
}

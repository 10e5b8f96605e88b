/** The broken answers of the `garbage` fault: status 200 with a body no OpenAI client can read. */
import type { GarbageMode } from "./faults.ts";

const encoder = new TextEncoder();

/**
 * The answer a generation request gets under the `garbage` fault `mode` (not `none`): a body
 * that is not JSON, an event stream cut mid-event that ends without `data: [DONE]`, or an HTML
 * page. Each has status 200, as a broken proxy or a crashing server in front of a replica sends.
 */
export function garbageResponse(mode: Exclude<GarbageMode, "none">, model: string): Response {
  switch (mode) {
    case "non_json":
      return new Response("Internal error: <pre>Traceback (most recent call last)", {
        headers: { "content-type": "application/json" },
      });
    case "html":
      return new Response("<html><body><h1>502 Bad Gateway</h1></body></html>", {
        headers: { "content-type": "text/html; charset=utf-8" },
      });
    case "truncated_sse": {
      const first = JSON.stringify({
        id: "chatcmpl-garbage",
        object: "chat.completion.chunk",
        created: Math.floor(Date.now() / 1000),
        model,
        choices: [{ index: 0, delta: { role: "assistant", content: "Hel" }, finish_reason: null }],
      });
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(encoder.encode(`data: ${first}\n\n`));
          controller.enqueue(encoder.encode(`data: {"id":"chatcmpl-garbage","choi`));
          controller.close();
        },
      });
      return new Response(body, {
        headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
      });
    }
  }
}

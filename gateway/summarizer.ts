/** Summaries for session compression, asked of the session's own model through the gateway itself. */
import type { ChatMessage, Summarizer } from "../actors/session/mod.ts";
import { contentText } from "../actors/session/mod.ts";

const INSTRUCTIONS =
  "You compress an AI agent's conversation history. Summarise the transcript below so the agent can continue its task: keep the user's instructions and goals, decisions made, facts learned, file names, identifiers, tool calls made and their results (errors especially), and open questions. Write plain text, no preamble.";

/** Renders messages as a plain transcript for the summarising model. */
export function transcript(messages: readonly ChatMessage[]): string {
  return messages.map((m) => {
    const calls = m.role === "assistant" && m.tool_calls?.length
      ? ` [calls ${
        m.tool_calls.map((c) => `${c.function.name}(${c.function.arguments})`).join(", ")
      }]`
      : "";
    const id = m.role === "tool" ? ` (result of ${m.tool_call_id})` : "";
    return `${m.role}${id}: ${contentText(m)}${calls}`;
  }).join("\n\n");
}

/** Options of {@linkcode gatewaySummarizer}. */
export interface GatewaySummarizerOptions {
  /** The `Authorization` header the gateway accepts from itself, once auth is on. */
  authorization?: string;
}

/** A summarizer that posts to `baseUrl`'s `/v1/chat/completions` with `model`. */
export function gatewaySummarizer(
  baseUrl: () => string,
  model: string,
  options: GatewaySummarizerOptions = {},
): Summarizer {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-turnpike-purpose": "session-summary",
    ...(options.authorization === undefined ? {} : { authorization: options.authorization }),
  };
  return async (messages, { maxTokens }) => {
    const response = await fetch(`${baseUrl()}/v1/chat/completions`, {
      method: "POST",
      headers,
      body: JSON.stringify({
        model,
        max_tokens: maxTokens,
        temperature: 0,
        messages: [
          { role: "system", content: INSTRUCTIONS },
          { role: "user", content: transcript(messages) },
        ],
      }),
      signal: AbortSignal.timeout(120_000),
    });
    const body = await response.json().catch(() => undefined);
    if (!response.ok) {
      throw new Error(`the summary request answered ${response.status}: ${JSON.stringify(body)}`);
    }
    const text = body?.choices?.[0]?.message?.content;
    if (typeof text !== "string") throw new Error("the summary answer has no text");
    return text;
  };
}

/** Llama 3.1's chat template, as vLLM applies it before counting a chat prompt. */

/** One chat message with its text already flattened. */
export interface ChatTurn {
  /** `system`, `user`, `assistant`, `tool`... */
  role: string;
  /** Its text. */
  content: string;
}

const LLAMA31_SYSTEM_PREAMBLE =
  "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n";

/**
 * Renders messages with Llama 3.1's chat template (as vLLM applies it): the system header with its
 * knowledge-date preamble, one header and `<|eot_id|>` per message, and the assistant header.
 * A prompt rendered from a conversation is a prefix of the one rendered after the assistant's
 * answer and the next user message are appended, which is what lets a prefix cache serve turns.
 */
export function renderChat(messages: readonly ChatTurn[]): string {
  const parts: string[] = ["<|begin_of_text|>"];
  let rest = messages;
  let system = "";
  if (messages[0]?.role === "system" || messages[0]?.role === "developer") {
    system = messages[0].content;
    rest = messages.slice(1);
  }
  parts.push(
    "<|start_header_id|>system<|end_header_id|>\n\n",
    LLAMA31_SYSTEM_PREAMBLE,
    system,
    "<|eot_id|>",
  );
  for (const m of rest) {
    const role = m.role === "tool" ? "ipython" : m.role;
    parts.push("<|start_header_id|>", role, "<|end_header_id|>\n\n", m.content, "<|eot_id|>");
  }
  parts.push("<|start_header_id|>assistant<|end_header_id|>\n\n");
  return parts.join("");
}

/** Renders a completion prompt: the beginning-of-text token, then the text. */
export function renderCompletion(prompt: string): string {
  return "<|begin_of_text|>" + prompt;
}

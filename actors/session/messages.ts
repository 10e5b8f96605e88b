/** OpenAI chat messages as a session keeps them, and the rules that keep tool calls and their results paired. */
import { z } from "zod";

const textPart = z.looseObject({ type: z.literal("text"), text: z.string() });
const otherPart = z.looseObject({ type: z.string() });
const content = z.union([z.string(), z.array(z.union([textPart, otherPart]))]);

/** One function call an assistant asked for, as OpenAI shapes it. */
export const ToolCallSchema = z.looseObject({
  id: z.string().min(1).max(256),
  type: z.literal("function").default("function"),
  function: z.looseObject({ name: z.string().min(1), arguments: z.string() }),
});

/** A tool call. */
export type ToolCall = z.infer<typeof ToolCallSchema>;

/** A system or developer message. */
export const SystemMessageSchema = z.looseObject({
  role: z.enum(["system", "developer"]),
  content,
});

/** A user message. */
export const UserMessageSchema = z.looseObject({ role: z.literal("user"), content });

/** An assistant message: text, tool calls, or both. */
export const AssistantMessageSchema = z.looseObject({
  role: z.literal("assistant"),
  content: z.union([content, z.null()]).optional(),
  tool_calls: z.array(ToolCallSchema).optional(),
});

/** A tool result answering one assistant tool call. */
export const ToolMessageSchema = z.looseObject({
  role: z.literal("tool"),
  tool_call_id: z.string().min(1).max(256),
  content,
});

/** Any chat message; unknown fields (`name`, ...) are kept and sent on. */
export const ChatMessageSchema = z.discriminatedUnion("role", [
  SystemMessageSchema,
  UserMessageSchema,
  AssistantMessageSchema,
  ToolMessageSchema,
]);

/** A chat message. */
export type ChatMessage = z.infer<typeof ChatMessageSchema>;
/** An assistant message. */
export type AssistantMessage = z.infer<typeof AssistantMessageSchema>;
/** A tool message. */
export type ToolMessage = z.infer<typeof ToolMessageSchema>;

/** The text of a message's content: a string as is, text parts joined, other parts dropped. */
export function contentText(message: ChatMessage): string {
  const c = message.content;
  if (typeof c === "string") return c;
  if (!c) return "";
  let text = "";
  for (const part of c) {
    if (part.type === "text" && typeof part.text === "string") text += part.text;
  }
  return text;
}

/** A broken pairing: which tool call id is missing its call or its result. */
export interface PairingProblem {
  /** The `tool_call_id` at fault. */
  toolCallId: string;
  /** `no_result`: an assistant call no tool message answers; `no_call`: a tool result for no open call. */
  kind: "no_result" | "no_call";
  /** The position in the new messages of the one at fault (where the missing result belongs). */
  index: number;
  /** A sentence for a 400. */
  message: string;
}

/**
 * Checks that `messages`, appended after `open` (the tool call ids the history left unanswered),
 * never leave an assistant tool call without its result before the next user or assistant turn,
 * nor hold a tool result for a call that is not open. Returns the first problem, or the ids still
 * open at the end (the last assistant message's calls a next turn must answer).
 */
export function checkToolPairs(
  messages: readonly ChatMessage[],
  open: readonly string[] = [],
): { ok: true; open: string[] } | { ok: false; problem: PairingProblem } {
  const pending = new Set(open);
  for (const [index, m] of messages.entries()) {
    if (m.role === "tool") {
      if (!pending.delete(m.tool_call_id)) {
        return problem(
          m.tool_call_id,
          "no_call",
          index,
          `The tool result for tool_call_id "${m.tool_call_id}" answers no open assistant tool call; send it only after the assistant message that made the call`,
        );
      }
      continue;
    }
    const missing = pending.values().next();
    if (!missing.done) {
      return problem(
        missing.value,
        "no_result",
        index,
        `The assistant tool call "${missing.value}" has no tool result; send a {"role":"tool","tool_call_id":"${missing.value}"} message before any other message`,
      );
    }
    if (m.role === "assistant") {
      for (const call of m.tool_calls ?? []) pending.add(call.id);
    }
  }
  return { ok: true, open: [...pending] };
}

function problem(
  toolCallId: string,
  kind: PairingProblem["kind"],
  index: number,
  message: string,
): { ok: false; problem: PairingProblem } {
  return { ok: false, problem: { toolCallId, kind, index, message } };
}

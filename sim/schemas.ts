/** zod schemas of the OpenAI-compatible request bodies the simulator accepts, as vLLM reads them. */
import { z } from "zod";

const textPart = z.looseObject({ type: z.literal("text"), text: z.string() });
const otherPart = z.looseObject({ type: z.string() });

/** A function call in an assistant message sent back; `arguments` is a JSON string. */
export const MessageToolCallSchema = z.looseObject({
  id: z.string().optional(),
  type: z.literal("function").optional(),
  function: z.looseObject({ name: z.string().min(1), arguments: z.string() }),
});

/** One chat message; content may be a string, text parts, or null (assistant tool calls). */
export const ChatMessageSchema = z.looseObject({
  role: z.enum(["system", "developer", "user", "assistant", "tool"]),
  content: z.union([z.string(), z.array(z.union([textPart, otherPart])), z.null()]).optional(),
  tool_calls: z.array(MessageToolCallSchema).nullable().optional(),
  tool_call_id: z.string().nullable().optional(),
});

/** A chat message as parsed. */
export type ChatMessage = z.infer<typeof ChatMessageSchema>;

const stop = z.union([z.string(), z.array(z.string()).max(4)]).nullable().optional();
const maxTokens = z.number().int().min(1).nullable().optional();

const sampling = {
  model: z.string().min(1),
  max_tokens: maxTokens,
  stop,
  n: z.number().int().min(1).max(1, "n must be 1: the simulator generates one choice").optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().gt(0).max(1).nullable().optional(),
  seed: z.number().int().nullable().optional(),
  stream: z.boolean().nullable().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullable().optional() }).nullable()
    .optional(),
  ignore_eos: z.boolean().optional(),
  /** vLLM's scheduling priority (lower first); anything but 0 needs `--scheduling-policy priority`. */
  priority: z.number().int().optional(),
};

/** A function the model may call: its name, description and JSON schema of its arguments. */
export const FunctionToolSchema = z.looseObject({
  type: z.literal("function"),
  function: z.looseObject({
    name: z.string().min(1),
    description: z.string().nullable().optional(),
    parameters: z.record(z.string(), z.unknown()).nullable().optional(),
  }),
});

/** A tool as parsed. */
export type FunctionTool = z.infer<typeof FunctionToolSchema>;

/** `tool_choice`: a mode, or one named function the model must call. */
export const ToolChoiceSchema = z.union([
  z.enum(["none", "auto", "required"]),
  z.looseObject({
    type: z.literal("function"),
    function: z.looseObject({ name: z.string().min(1) }),
  }),
]);

/** A tool choice as parsed. */
export type ToolChoice = z.infer<typeof ToolChoiceSchema>;

/** `POST /v1/chat/completions`; unknown fields are accepted and ignored, as vLLM does. */
export const ChatRequestSchema = z.looseObject({
  ...sampling,
  messages: z.array(ChatMessageSchema).min(1),
  max_completion_tokens: maxTokens,
  tools: z.array(FunctionToolSchema).nullable().optional(),
  tool_choice: ToolChoiceSchema.nullable().optional(),
  parallel_tool_calls: z.boolean().nullable().optional(),
}).superRefine((body, ctx) => {
  // vLLM's check_tool_usage: "none" needs nothing, any other choice needs `tools`, and a named
  // choice must name one of them.
  const choice = body.tool_choice;
  if (choice === undefined || choice === null || choice === "none") return;
  if (body.tools === undefined || body.tools === null) {
    ctx.addIssue({
      code: "custom",
      path: ["tool_choice"],
      message: "When using `tool_choice`, `tools` must be set.",
    });
    return;
  }
  if (typeof choice === "string") return;
  if (!body.tools.some((t) => t.function.name === choice.function.name)) {
    ctx.addIssue({
      code: "custom",
      path: ["tool_choice"],
      message: "The tool specified in `tool_choice` does not match any of the specified `tools`",
    });
  }
});

/** A chat request as parsed. */
export type ChatRequest = z.infer<typeof ChatRequestSchema>;

/** `POST /v1/completions`: a prompt string (or a list of one), or token ids. */
export const CompletionRequestSchema = z.looseObject({
  ...sampling,
  prompt: z.union([
    z.string(),
    z.array(z.string()).length(
      1,
      "prompt must be one string: the simulator serves one prompt a request",
    ),
    z.array(z.number().int().min(0)).min(1),
  ]),
});

/** A completion request as parsed. */
export type CompletionRequest = z.infer<typeof CompletionRequestSchema>;

/** `POST /v1/embeddings`. */
export const EmbeddingRequestSchema = z.looseObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()).min(1)]),
});

/** Flattens a chat message's content to text (text parts joined, other parts dropped). */
export function messageText(message: ChatMessage): string {
  const content = message.content;
  if (typeof content === "string") return content;
  if (!content) return "";
  let text = "";
  for (const part of content) {
    if (part.type === "text" && typeof part.text === "string") text += part.text;
  }
  return text;
}

/** One line per zod issue, "path: message", for a 400 body. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join(".") : "body"}: ${i.message}`)
    .join("; ");
}

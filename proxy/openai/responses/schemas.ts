/** zod schemas of the Responses and Conversations request bodies the gateway serves on its sessions. */
import { z } from "zod";

const textPart = z.looseObject({
  type: z.enum(["input_text", "output_text"]),
  text: z.string(),
});

/** A message item: `{"role": "user", "content": "Hi"}` or with content parts. */
export const MessageItemSchema = z.looseObject({
  type: z.literal("message").optional(),
  role: z.enum(["user", "assistant", "system", "developer"]),
  content: z.union([z.string(), z.array(textPart)]),
  id: z.string().nullish(),
});

/** A function call the model made, sent back as context. */
export const FunctionCallItemSchema = z.looseObject({
  type: z.literal("function_call"),
  call_id: z.string().min(1).max(256),
  name: z.string().min(1),
  arguments: z.string(),
  id: z.string().nullish(),
});

/** The result of a function call, answering its `call_id`. */
export const FunctionCallOutputItemSchema = z.looseObject({
  type: z.literal("function_call_output"),
  call_id: z.string().min(1).max(256),
  output: z.union([
    z.string(),
    z.array(z.looseObject({ type: z.literal("input_text"), text: z.string() })),
  ]),
  id: z.string().nullish(),
});

/** One input item: a message, a function call or a function call's output. */
export const InputItemSchema = z.union([
  FunctionCallItemSchema,
  FunctionCallOutputItemSchema,
  MessageItemSchema,
]);

/** A message item. */
export type MessageItem = z.infer<typeof MessageItemSchema>;
/** A function call item. */
export type FunctionCallItem = z.infer<typeof FunctionCallItemSchema>;
/** A function call output item. */
export type FunctionCallOutputItem = z.infer<typeof FunctionCallOutputItemSchema>;
/** An input item. */
export type InputItem = z.infer<typeof InputItemSchema>;

/** Up to 16 string pairs, keys up to 64 characters and values up to 512, as OpenAI allows. */
export const MetadataSchema = z
  .record(z.string().max(64), z.string().max(512))
  .refine((m) => Object.keys(m).length <= 16, "metadata must have at most 16 keys");

/** A Responses-style function tool (flat, unlike chat's `{type, function: {...}}`). */
export const FunctionToolSchema = z.looseObject({
  type: z.literal("function"),
  name: z.string().min(1).max(64),
  description: z.string().nullish(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  strict: z.boolean().nullish(),
});

/** A function tool. */
export type FunctionTool = z.infer<typeof FunctionToolSchema>;

/** `auto`, `none`, `required`, or one named function. */
export const ToolChoiceSchema = z.union([
  z.enum(["auto", "none", "required"]),
  z.looseObject({ type: z.literal("function"), name: z.string().min(1) }),
]);

/** A tool choice. */
export type ToolChoice = z.infer<typeof ToolChoiceSchema>;

/** `POST /v1/responses`; unknown fields are kept. */
export const ResponseCreateBodySchema = z.looseObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(InputItemSchema)]).optional(),
  instructions: z.string().nullish(),
  previous_response_id: z.string().min(1).nullish(),
  conversation: z.union([z.string().min(1), z.looseObject({ id: z.string().min(1) })]).nullish(),
  store: z.boolean().nullish().transform((v) => v ?? true),
  tools: z.array(FunctionToolSchema).optional(),
  tool_choice: ToolChoiceSchema.optional(),
  parallel_tool_calls: z.boolean().nullish(),
  stream: z.boolean().nullish(),
  truncation: z.enum(["disabled", "auto"]).nullish().transform((v) => v ?? "disabled"),
  max_output_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  metadata: MetadataSchema.nullish(),
  user: z.string().optional(),
});

/** A parsed `POST /v1/responses` body. */
export type ResponseCreateBody = z.infer<typeof ResponseCreateBodySchema>;

/** What {@linkcode exclusiveParamsError} answers: the fields of an OpenAI 400 error body. */
export interface ParamError {
  /** OpenAI's sentence, verbatim. */
  message: string;
  /** The field at fault; OpenAI names none for this error. */
  param: string | null;
  /** A machine-readable code. */
  code: string;
}

/**
 * The 400 OpenAI answers when a request names both `previous_response_id` and `conversation`,
 * or `undefined` when it names at most one. The message is OpenAI's, kept verbatim for clients
 * that match on it.
 */
export function exclusiveParamsError(
  body: Pick<ResponseCreateBody, "previous_response_id" | "conversation">,
): ParamError | undefined {
  if (body.previous_response_id == null || body.conversation == null) return undefined;
  return {
    message:
      "Mutually exclusive parameters. Ensure you are only providing one of: 'previous_response_id' or 'conversation'.",
    param: null,
    code: "mutually_exclusive_parameters",
  };
}

/**
 * The 400 for a `tool_choice` that no tool of the request can satisfy (`required` or a named
 * function without tools, a name not among them), or `undefined` when it can be satisfied.
 */
export function toolChoiceError(
  body: Pick<ResponseCreateBody, "tools" | "tool_choice">,
): ParamError | undefined {
  const choice = body.tool_choice;
  if (choice === undefined || choice === "auto" || choice === "none") return undefined;
  const names = (body.tools ?? []).map((t) => t.name);
  const wanted = typeof choice === "string" ? undefined : choice.name;
  if (names.length > 0 && (wanted === undefined || names.includes(wanted))) return undefined;
  const what = wanted === undefined ? `'${choice}'` : `function '${wanted}'`;
  const fix = names.length === 0
    ? "send the function in `tools`"
    : `name one of ${names.map((n) => `'${n}'`).join(", ")}`;
  return {
    message: `Tool choice ${what} needs a matching function in 'tools'; ${fix}`,
    param: "tool_choice",
    code: "invalid_tool_choice",
  };
}

/** The conversation id a request names, from either spelling (`"conv_1"` or `{"id": "conv_1"}`). */
export function conversationId(body: Pick<ResponseCreateBody, "conversation">): string | undefined {
  const c = body.conversation;
  if (c == null) return undefined;
  return typeof c === "string" ? c : c.id;
}

/** At most 20 items at a time, as OpenAI allows on both conversation endpoints. */
const itemBatch = z.array(InputItemSchema).max(20);

/** `POST /v1/conversations`. */
export const ConversationCreateBodySchema = z.looseObject({
  items: itemBatch.nullish(),
  metadata: MetadataSchema.nullish(),
});

/** `POST /v1/conversations/:id`: replaces the metadata. */
export const ConversationUpdateBodySchema = z.looseObject({
  metadata: MetadataSchema.nullable(),
});

/** `POST /v1/conversations/:id/items`; the `include` query parameter is accepted and ignored. */
export const ConversationItemsBodySchema = z.looseObject({
  items: itemBatch.min(1),
});

/** A parsed `POST /v1/conversations` body. */
export type ConversationCreateBody = z.infer<typeof ConversationCreateBodySchema>;
/** A parsed `POST /v1/conversations/:id` body. */
export type ConversationUpdateBody = z.infer<typeof ConversationUpdateBodySchema>;
/** A parsed `POST /v1/conversations/:id/items` body. */
export type ConversationItemsBody = z.infer<typeof ConversationItemsBodySchema>;

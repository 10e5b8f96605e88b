/**
 * zod schemas of the OpenAI request bodies the gateway routes, as strict as OpenAI's API where it
 * defines a field, so a client's mistake is a 400 naming it rather than a replica's error. Unknown
 * fields pass (vLLM takes many sampling parameters of its own): the gateway forwards the bytes.
 */
import { z } from "zod";

/** The most tokens a request may ask to generate; far above any context length served. */
export const MAX_TOKENS_BOUND = 10_000_000;
/** The most messages one chat request may carry. */
export const MAX_MESSAGES = 16_384;
/** The most tools one chat request may define (OpenAI's limit). */
export const MAX_TOOLS = 128;
/** The most stop sequences one request may give. */
export const MAX_STOP = 64;
/** The most inputs one embeddings or completions request may batch. */
export const MAX_BATCH = 4_096;

/** Characters a `model` field may have. */
const MODEL_MAX_CHARS = 512;
/** `temperature`'s and `top_p`'s upper bounds (both from 0). */
const TEMPERATURE_MAX = 2;
const TOP_P_MAX = 1;

const model = z.string().min(1).max(MODEL_MAX_CHARS);
const stream = z.boolean().nullish();
const maxTokens = z.number().int().min(0).max(MAX_TOKENS_BOUND).nullish();
const name = z.string().min(1).max(256);
const stop = z.union([z.string(), z.array(z.string()).max(MAX_STOP)]).nullish();
const penalty = z.number().min(-2).max(2).nullish();
const seed = z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER).nullish();
const jsonObject = z.record(z.string(), z.unknown());
const streamOptions = z.looseObject({
  include_usage: z.boolean().nullish(),
  continuous_usage_stats: z.boolean().nullish(),
}).nullish();
const logitBias = z.record(z.string(), z.number().min(-100).max(100)).nullish();
const tokenId = z.number().int().min(0).max(2 ** 32);

/** Sampling fields chat and completions share. */
const sampling = {
  model,
  stream,
  stream_options: streamOptions,
  max_tokens: maxTokens,
  temperature: z.number().min(0).max(TEMPERATURE_MAX).nullish(),
  top_p: z.number().min(0).max(TOP_P_MAX).nullish(),
  n: z.number().int().min(1).max(128).nullish(),
  stop,
  presence_penalty: penalty,
  frequency_penalty: penalty,
  logit_bias: logitBias,
  seed,
  user: z.string().max(512).nullish(),
};

const textPart = z.looseObject({ type: z.literal("text"), text: z.string() });
const imagePart = z.looseObject({
  type: z.literal("image_url"),
  image_url: z.looseObject({
    url: z.string(),
    detail: z.enum(["auto", "low", "high"]).nullish(),
  }),
});
const audioPart = z.looseObject({
  type: z.literal("input_audio"),
  input_audio: z.looseObject({ data: z.string(), format: z.string().min(1) }),
});
const filePart = z.looseObject({
  type: z.literal("file"),
  file: z.looseObject({
    file_data: z.string().nullish(),
    file_id: z.string().nullish(),
    filename: z.string().nullish(),
  }),
});
// vLLM's own multimodal parts: it checks their insides.
const vllmParts = ["audio_url", "video_url", "image_embeds", "image_pil", "input_image"].map((
  type,
) => z.looseObject({ type: z.literal(type) }));
const refusalPart = z.looseObject({ type: z.literal("refusal"), refusal: z.string() });

const userPart = z.discriminatedUnion("type", [
  textPart,
  imagePart,
  audioPart,
  filePart,
  ...vllmParts,
]);
const textContent = z.union([z.string(), z.array(textPart)]);

/** One function call an assistant made, sent back as context. */
const toolCall = z.looseObject({
  id: z.string().min(1).max(512),
  type: z.literal("function"),
  function: z.looseObject({ name, arguments: z.string() }),
});

const systemMessage = z.looseObject({
  role: z.literal("system"),
  content: textContent,
  name: name.nullish(),
});
const developerMessage = z.looseObject({
  role: z.literal("developer"),
  content: textContent,
  name: name.nullish(),
});
const userMessage = z.looseObject({
  role: z.literal("user"),
  content: z.union([z.string(), z.array(userPart)]),
  name: name.nullish(),
});
const assistantMessage = z.looseObject({
  role: z.literal("assistant"),
  content: z.union([z.string(), z.array(z.discriminatedUnion("type", [textPart, refusalPart]))])
    .nullish(),
  name: name.nullish(),
  refusal: z.string().nullish(),
  tool_calls: z.array(toolCall).max(MAX_TOOLS).nullish(),
  function_call: z.looseObject({ name, arguments: z.string() }).nullish(),
});
const toolMessage = z.looseObject({
  role: z.literal("tool"),
  content: textContent,
  tool_call_id: z.string().min(1).max(512),
});
const functionMessage = z.looseObject({
  role: z.literal("function"),
  content: z.string().nullable(),
  name,
});

/** One chat message, by its `role`. */
export const ChatMessageBody = z.discriminatedUnion("role", [
  systemMessage,
  developerMessage,
  userMessage,
  assistantMessage,
  toolMessage,
  functionMessage,
]);

const functionTool = z.looseObject({
  type: z.literal("function"),
  function: z.looseObject({
    name,
    description: z.string().nullish(),
    parameters: jsonObject.nullish(),
    strict: z.boolean().nullish(),
  }),
});
const customTool = z.looseObject({
  type: z.literal("custom"),
  custom: z.looseObject({ name, description: z.string().nullish() }),
});

const toolChoice = z.union([
  z.enum(["none", "auto", "required"]),
  z.discriminatedUnion("type", [
    z.looseObject({ type: z.literal("function"), function: z.looseObject({ name }) }),
    z.looseObject({ type: z.literal("custom"), custom: z.looseObject({ name }) }),
    z.looseObject({
      type: z.literal("allowed_tools"),
      allowed_tools: z.looseObject({
        mode: z.enum(["auto", "required"]),
        tools: z.array(jsonObject).max(MAX_TOOLS),
      }),
    }),
  ]),
]).nullish();

const responseFormat = z.discriminatedUnion("type", [
  z.looseObject({ type: z.literal("text") }),
  z.looseObject({ type: z.literal("json_object") }),
  z.looseObject({
    type: z.literal("json_schema"),
    json_schema: z.looseObject({
      name,
      description: z.string().nullish(),
      schema: jsonObject.nullish(),
      strict: z.boolean().nullish(),
    }),
  }),
  // vLLM's structured output by tags.
  z.looseObject({ type: z.literal("structural_tag") }),
]).nullish();

/** `POST /v1/chat/completions`. */
export const ChatCompletionBody = z.looseObject({
  ...sampling,
  messages: z.array(ChatMessageBody).min(1).max(MAX_MESSAGES),
  max_completion_tokens: maxTokens,
  tools: z.array(z.discriminatedUnion("type", [functionTool, customTool])).max(MAX_TOOLS)
    .nullish(),
  tool_choice: toolChoice,
  parallel_tool_calls: z.boolean().nullish(),
  response_format: responseFormat,
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(1_000_000).nullish(),
  metadata: z.record(z.string().max(64), z.string().max(512)).nullish(),
  store: z.boolean().nullish(),
  reasoning_effort: z.string().max(64).nullish(),
  modalities: z.array(z.string().max(64)).max(8).nullish(),
  service_tier: z.string().max(64).nullish(),
});

const tokens = z.array(tokenId).min(1);
const batchOf = <T extends z.ZodType>(item: T) => z.array(item).min(1).max(MAX_BATCH);

/** `POST /v1/completions`: `prompt` is text, texts, token ids or lists of token ids. */
export const CompletionBody = z.looseObject({
  ...sampling,
  prompt: z.union([z.string(), batchOf(z.string()), tokens, batchOf(tokens)]),
  logprobs: z.number().int().min(0).max(1_000_000).nullish(),
  echo: z.boolean().nullish(),
  best_of: z.number().int().min(1).max(128).nullish(),
  suffix: z.string().nullish(),
});

/** `POST /v1/embeddings`: `input` is text, texts, token ids or lists of token ids. */
export const EmbeddingBody = z.looseObject({
  model,
  input: z.union([z.string(), batchOf(z.string()), tokens, batchOf(tokens)]),
  encoding_format: z.enum(["float", "base64"]).nullish(),
  dimensions: z.number().int().min(1).max(1_000_000).nullish(),
  user: z.string().max(512).nullish(),
});

/** Fields every OpenAI body the gateway routes has. */
export interface RoutedBody {
  model: string;
  stream?: boolean | null | undefined;
}

/** A zod issue's path as OpenAI names a parameter: `messages[3].content[0].text`. */
export function paramOf(path: readonly PropertyKey[]): string | null {
  let param = "";
  for (const key of path) {
    if (typeof key === "number") param += `[${key}]`;
    else param += param === "" ? String(key) : `.${String(key)}`;
  }
  return param === "" ? null : param;
}

/** A zod issue narrowed to the most specific one inside it, with its path from the body's root. */
export interface BodyIssue {
  /** The field at fault, as {@linkcode paramOf} names it. */
  param: string | null;
  /** What is wrong with it. */
  message: string;
}

/**
 * The field at fault and what is wrong with it. A union none of whose options matched (`content`
 * as a string or parts) reports the option that got furthest into the value: the deepest issue,
 * and at equal depth one that is not a mere type mismatch, as that option took the value's type.
 */
export function bodyIssue(issue: z.core.$ZodIssue): BodyIssue {
  const path: PropertyKey[] = [...issue.path];
  let current = issue;
  while (current.code === "invalid_union" && current.errors.length > 0) {
    let best: z.core.$ZodIssue | undefined;
    for (const option of current.errors) {
      const first = option[0];
      if (!first) continue;
      if (
        best === undefined || first.path.length > best.path.length ||
        (first.path.length === best.path.length && best.code === "invalid_type" &&
          first.code !== "invalid_type")
      ) best = first;
    }
    if (best === undefined) break;
    path.push(...best.path);
    current = best;
  }
  return { param: paramOf(path), message: current.message };
}

/** The chat body's fields: a field the hand check below does not know is left to the schema. */
const CHAT_FIELDS: Readonly<Record<string, unknown>> = ChatCompletionBody.shape;
/** Roles whose message `{role, content}` with a string content the schema always accepts. */
const PLAIN_ROLES: ReadonlySet<unknown> = new Set(["system", "developer", "user", "assistant"]);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Whether `value` is absent, null, or a number in `[min, max]` (an integer when `int`). */
function nullishNumber(value: unknown, min: number, max: number, int: boolean): boolean {
  if (value === null || value === undefined) return true;
  if (typeof value !== "number") return false;
  return (int ? Number.isInteger(value) : Number.isFinite(value)) && value >= min && value <= max;
}

/** Whether every message is `{role, content}` of a plain role with a string content. */
function plainMessages(value: unknown): boolean {
  if (!Array.isArray(value) || value.length < 1 || value.length > MAX_MESSAGES) return false;
  for (const message of value) {
    if (!isObject(message)) return false;
    let fields = 0;
    for (const name in message) {
      if (name !== "role" && name !== "content") return false;
      fields++;
    }
    if (fields !== 2 || typeof message.content !== "string" || !PLAIN_ROLES.has(message.role)) {
      return false;
    }
  }
  return true;
}

/**
 * A hand check of the plain chat body most agents send: `model`, `messages` of `{role, content}`
 * with string contents, and `stream`, `max_tokens`, `max_completion_tokens`, `temperature`,
 * `top_p` within the schema's bounds; fields the schema does not define pass, as they do there.
 * True only for bodies {@linkcode ChatCompletionBody} accepts (a property test holds it to that);
 * false sends the body to the schema, which accepts or names the field at fault as before. It
 * saves the schema's walk of every message on the hot path.
 */
export function isPlainChatBody(body: unknown): body is RoutedBody {
  if (!isObject(body)) return false;
  let model = false;
  let messages = false;
  for (const name in body) {
    const value = body[name];
    switch (name) {
      case "model":
        if (typeof value !== "string" || value.length < 1 || value.length > MODEL_MAX_CHARS) {
          return false;
        }
        model = true;
        break;
      case "messages":
        if (!plainMessages(value)) return false;
        messages = true;
        break;
      case "stream":
        if (value !== true && value !== false && value !== null) return false;
        break;
      case "max_tokens":
      case "max_completion_tokens":
        if (!nullishNumber(value, 0, MAX_TOKENS_BOUND, true)) return false;
        break;
      case "temperature":
        if (!nullishNumber(value, 0, TEMPERATURE_MAX, false)) return false;
        break;
      case "top_p":
        if (!nullishNumber(value, 0, TOP_P_MAX, false)) return false;
        break;
      default:
        if (Object.hasOwn(CHAT_FIELDS, name)) return false;
    }
  }
  return model && messages;
}

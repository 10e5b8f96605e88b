/**
 * OpenAI tool calling as vLLM serves it: whether a turn calls tools (deterministic for its seed),
 * which calls with which arguments, and the tokens, stream deltas and message that write them.
 */
import type { ChatMessage, ChatRequest, FunctionTool } from "./schemas.ts";
import { pythonJson, TOOL_CALL_SEPARATOR, toolCallParts } from "./chat_template.ts";
import { mix32 } from "./text.ts";

/** One function call of a response, as OpenAI shapes it. */
export interface ToolCall {
  /** `chatcmpl-tool-` and 32 hex digits, as vLLM makes them. */
  id: string;
  /** Always `function`. */
  type: "function";
  /** The function and its arguments, a JSON object as a string. */
  function: { name: string; arguments: string };
}

/**
 * Percent of "auto" turns that call tools when the last message is the user's. Each round of tool
 * results since then halves it (30, 15, 7, 3, 1), and the sixth round always answers in text.
 */
export const AUTO_CALL_PERCENT = 60;
/** Most calls of one turn with `parallel_tool_calls` (at least one). */
export const MAX_PARALLEL_CALLS = 3;

const DECIDE_SALT = 0x7001;
const COUNT_SALT = 0x7002;
const PICK_SALT = 0x7100;
const ARGS_SALT = 0x7200;
const ID_SALT = 0x7300;
/** Deeper than this, a schema's value is null: a bound for recursive schemas. */
const MAX_DEPTH = 8;
const WORDS = ["alpha", "bravo", "delta", "echo", "kilo", "lima", "oscar", "sierra"] as const;

type Schema = Record<string, unknown>;

function isSchema(value: unknown): value is Schema {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Assistant turns that called tools since the last user message. */
function toolRounds(messages: readonly ChatMessage[]): number {
  let rounds = 0;
  for (let i = messages.length - 1; i >= 0 && messages[i]!.role !== "user"; i--) {
    if (messages[i]!.role === "assistant" && messages[i]!.tool_calls?.length) rounds++;
  }
  return rounds;
}

function autoCalls(messages: readonly ChatMessage[], turn: number): boolean {
  const last = messages.at(-1)!.role;
  if (last === "assistant") return false;
  const percent = last === "tool" ? AUTO_CALL_PERCENT >> toolRounds(messages) : AUTO_CALL_PERCENT;
  return mix32(turn, DECIDE_SALT) % 100 < percent;
}

function bounded(value: number, schema: Schema, integer: boolean): number {
  const { minimum, maximum } = schema;
  if (typeof minimum === "number" && value < minimum) {
    value = integer ? Math.ceil(minimum) : minimum;
  }
  if (typeof maximum === "number" && value > maximum) {
    value = integer ? Math.floor(maximum) : maximum;
  }
  return value;
}

function stringFor(schema: Schema, seed: number): string {
  let text: string = WORDS[seed % WORDS.length]!;
  const { minLength, maxLength } = schema;
  if (typeof minLength === "number") text = text.padEnd(minLength, "x");
  return typeof maxLength === "number" ? text.slice(0, maxLength) : text;
}

function objectFor(schema: Schema, seed: number, depth: number): Record<string, unknown> {
  const properties = isSchema(schema.properties) ? schema.properties : {};
  const required = Array.isArray(schema.required) ? schema.required : [];
  // fromEntries, not assignment: a property named `__proto__` stays a property.
  return Object.fromEntries(
    required.filter((name): name is string => typeof name === "string").map((name, i) => [
      name,
      valueFor(properties[name], mix32(seed, i), depth + 1),
    ]),
  );
}

function valueFor(schema: unknown, seed: number, depth: number): unknown {
  if (depth > MAX_DEPTH) return null;
  const s = isSchema(schema) ? schema : {};
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  if ("const" in s) return s.const;
  const variants = s.anyOf ?? s.oneOf;
  if (s.type === undefined && Array.isArray(variants) && variants.length > 0) {
    return valueFor(variants.find((v) => !isSchema(v) || v.type !== "null") ?? null, seed, depth);
  }
  const type = Array.isArray(s.type)
    ? s.type.find((t) => t !== "null") ?? "null"
    : s.type ?? (isSchema(s.properties) ? "object" : "string");
  switch (type) {
    case "integer":
      return bounded(1 + seed % 9, s, true);
    case "number":
      return bounded(1.5 + seed % 9, s, false);
    case "boolean":
      return seed % 2 === 0;
    case "null":
      return null;
    case "object":
      return objectFor(s, seed, depth);
    case "array": {
      const min = Math.max(typeof s.minItems === "number" ? s.minItems : 0, 1);
      const count = typeof s.maxItems === "number" ? Math.min(min, s.maxItems) : min;
      return Array.from({ length: count }, (_, i) => valueFor(s.items, mix32(seed, i), depth + 1));
    }
    default:
      return stringFor(s, seed);
  }
}

/**
 * Arguments for a function with JSON schema `parameters`: every required property, recursively,
 * with a value of its type (an enum's first value, a word, a small number, one array item).
 */
export function argumentsFor(parameters: unknown, seed: number): Record<string, unknown> {
  return objectFor(isSchema(parameters) ? parameters : {}, seed, 0);
}

/** A tool call id as vLLM makes them (`chatcmpl-tool-` and 32 hex digits), from `seed`. */
export function toolCallId(seed: number): string {
  let hex = "";
  for (let i = 0; i < 4; i++) hex += mix32(seed, ID_SALT + i).toString(16).padStart(8, "0");
  return `chatcmpl-tool-${hex}`;
}

/**
 * The calls a chat turn makes, none for a text answer: "none" never calls, "required" and a named
 * function always do, "auto" at {@linkcode AUTO_CALL_PERCENT}. A named function is called once,
 * otherwise 1 to {@linkcode MAX_PARALLEL_CALLS} tools (1 without `parallel_tool_calls`). Everything
 * follows from `seed` and the number of messages, so each turn of a conversation draws anew.
 */
export function planToolCalls(body: ChatRequest, seed: number): ToolCall[] {
  const tools = body.tools ?? [];
  const choice = body.tool_choice ?? "auto";
  if (tools.length === 0 || choice === "none") return [];
  const turn = mix32(seed, body.messages.length);
  if (choice === "auto" && !autoCalls(body.messages, turn)) return [];
  let picked: FunctionTool[];
  if (typeof choice === "object") {
    picked = tools.filter((t) => t.function.name === choice.function.name).slice(0, 1);
  } else {
    const count = body.parallel_tool_calls === false
      ? 1
      : 1 + mix32(turn, COUNT_SALT) % MAX_PARALLEL_CALLS;
    picked = Array.from(
      { length: count },
      (_, j) => tools[mix32(turn, PICK_SALT + j) % tools.length]!,
    );
  }
  return picked.map((tool, j) => ({
    id: toolCallId(mix32(turn, j)),
    type: "function",
    function: {
      name: tool.function.name,
      arguments: pythonJson(argumentsFor(tool.function.parameters, mix32(turn, ARGS_SALT + j))),
    },
  }));
}

/** Where a call's arguments lie in the rendered calls. */
interface ArgumentSpan {
  start: number;
  end: number;
}

/**
 * A turn's calls as the tokens that write them, rendered as the chat template renders them in the
 * next turn's prompt (so the generated blocks are the ones that prompt hashes): what each token
 * streams, and the calls as far as a number of tokens wrote them.
 */
export class ToolCallOutput {
  /** The text of every token, in order. */
  readonly pieces: readonly string[];
  readonly #calls: readonly ToolCall[];
  readonly #text: string;
  readonly #spans: ArgumentSpan[] = [];
  readonly #ends: number[] = [];

  /** @param calls the turn's calls, @param split the tokenizer's text-to-token-texts split */
  constructor(calls: readonly ToolCall[], split: (text: string) => string[]) {
    this.#calls = calls;
    let text = "";
    for (const [j, call] of calls.entries()) {
      if (j > 0) text += TOOL_CALL_SEPARATOR;
      const [before, args, after] = toolCallParts(call.function);
      const start = text.length + before.length;
      this.#spans.push({ start, end: start + args.length });
      text += before + args + after;
    }
    this.#text = text;
    this.pieces = split(text);
    let end = 0;
    for (const piece of this.pieces) this.#ends.push(end += piece.length);
  }

  /**
   * The stream deltas of token `index`, one chunk each, as vLLM sends them: a call's first delta
   * (its id, type and name, empty arguments) when the token reaches its arguments, then the part
   * of the arguments the token writes. Tokens of the text around the arguments send none.
   */
  deltas(index: number): Record<string, unknown>[] {
    const start = this.#ends[index - 1] ?? 0;
    const end = this.#ends[index] ?? start;
    const deltas: Record<string, unknown>[] = [];
    for (const [i, span] of this.#spans.entries()) {
      if (start <= span.start && span.start < end) {
        const call = this.#calls[i]!;
        const fn = { name: call.function.name, arguments: "" };
        deltas.push({ tool_calls: [{ index: i, id: call.id, type: "function", function: fn }] });
      }
      const piece = this.#text.slice(Math.max(start, span.start), Math.min(end, span.end));
      if (piece !== "") deltas.push({ tool_calls: [{ index: i, function: { arguments: piece } }] });
    }
    return deltas;
  }

  /** The calls the first `tokens` tokens wrote: those they reached, with arguments cut there. */
  callsAt(tokens: number): ToolCall[] {
    const end = this.#ends[Math.min(tokens, this.#ends.length) - 1] ?? 0;
    return this.#calls.flatMap((call, i) => {
      const span = this.#spans[i]!;
      if (span.start >= end) return [];
      const args = this.#text.slice(span.start, Math.min(end, span.end));
      return [{ ...call, function: { name: call.function.name, arguments: args } }];
    });
  }
}

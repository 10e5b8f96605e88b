/** The command template that starts one replica: shell-like splitting into argv and placeholder filling, no shell. */

/** The placeholders a `models[].command` template may use. */
export const PLACEHOLDERS = [
  "port",
  "model_path",
  "name",
  "gpu_memory_utilization",
  "tensor_parallel_size",
  "max_model_len",
] as const;

/** One placeholder's name. */
export type Placeholder = typeof PLACEHOLDERS[number];

/** The values a template is filled with; a missing one may not appear in the template. */
export type PlaceholderValues = { [K in Placeholder]?: string | number | undefined };

/** `vllm serve` with the model's settings, used when a model has no `command`. */
export const DEFAULT_COMMAND_TEMPLATE = "vllm serve {model_path} --port {port} " +
  "--served-model-name {name} --gpu-memory-utilization {gpu_memory_utilization} " +
  "--tensor-parallel-size {tensor_parallel_size}";

/** What the default template gets appended when the model sets `max_model_len`. */
export const MAX_MODEL_LEN_SUFFIX = " --max-model-len {max_model_len}";

/** What the default template gets appended when the model sets `scheduling_policy: priority`. */
export const PRIORITY_POLICY_SUFFIX = " --scheduling-policy priority";

/** A command template that cannot be split or filled in. */
export class CommandTemplateError extends Error {
  /** @param message what is wrong with the template */
  constructor(message: string) {
    super(message);
    this.name = "CommandTemplateError";
  }
}

const PLACEHOLDER_PATTERN = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Splits a command line into words the way a POSIX shell would quote them, without expanding
 * anything: whitespace separates words, `'...'` is literal, `"..."` honours `\"`, `\\`, `\$` and
 * `` \` ``, and a backslash outside quotes keeps the next character.
 *
 * @example splitCommand(`sim --name "my model"`) // ["sim", "--name", "my model"]
 */
export function splitCommand(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === "\\" && i + 1 < line.length && `"\\$\``.includes(line[i + 1]!)) {
        word += line[++i];
      } else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === "\\") {
      if (i + 1 >= line.length) {
        throw new CommandTemplateError(
          "ends with a lone backslash; remove it or escape it as \\\\",
        );
      }
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new CommandTemplateError(`has an unclosed ${quote} quote; close it`);
  if (inWord) words.push(word);
  if (words.length === 0) throw new CommandTemplateError("is empty; give the program to run");
  return words;
}

/** The placeholders that `template` uses, in order of first use; unknown names are included. */
export function placeholdersIn(template: string): string[] {
  const names = [...template.matchAll(PLACEHOLDER_PATTERN)].map((m) => m[1]!);
  return [...new Set(names)];
}

/** True when `name` is one of {@linkcode PLACEHOLDERS}. */
export function isPlaceholder(name: string): name is Placeholder {
  return (PLACEHOLDERS as readonly string[]).includes(name);
}

/**
 * Splits `template` into argv and fills in its placeholders word by word, so a value with spaces
 * stays one argument and is never parsed as shell syntax.
 * Throws {@linkcode CommandTemplateError} on a syntax error, an unknown placeholder or a
 * placeholder without a value.
 */
export function renderCommand(template: string, values: PlaceholderValues): string[] {
  return splitCommand(template).map((word) =>
    word.replace(PLACEHOLDER_PATTERN, (_, name: string) => {
      if (!isPlaceholder(name)) {
        throw new CommandTemplateError(
          `uses unknown placeholder {${name}}; known ones are ${
            PLACEHOLDERS.map((p) => `{${p}}`).join(", ")
          }`,
        );
      }
      const value = values[name];
      if (value === undefined) {
        throw new CommandTemplateError(`uses {${name}} but the model has no ${name}; set it`);
      }
      return String(value);
    })
  );
}

/** The template a model runs: its `command`, or `vllm serve` with `--max-model-len` when it sets one. */
export function commandTemplateOf(
  model: {
    command?: string | undefined;
    max_model_len?: number | undefined;
    scheduling_policy?: string | undefined;
  },
): string {
  if (model.command !== undefined) return model.command;
  const template = model.max_model_len === undefined
    ? DEFAULT_COMMAND_TEMPLATE
    : DEFAULT_COMMAND_TEMPLATE + MAX_MODEL_LEN_SUFFIX;
  return model.scheduling_policy === "priority" ? template + PRIORITY_POLICY_SUFFIX : template;
}

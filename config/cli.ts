/** Command-line plumbing shared by every subcommand: the command shape, flag parsing, usage errors. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { loadConfig, type LoadConfigOptions } from "./loader.ts";
import type { Config } from "./schema.ts";

/** One subcommand of `main.ts`. */
export interface Command {
  /** The word that selects it: `deno run main.ts <name>`. */
  name: string;
  /** One line for the top-level usage. */
  summary: string;
  /** The full `--help` text. */
  usage: string;
  /** Runs it with the arguments after its name; resolves to the process exit code. */
  run(args: string[]): Promise<number>;
  /** True when `run` answers `--help` itself (a command with subcommands of its own). */
  handlesHelp?: boolean;
}

/** A wrong command line: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  /** The usage text to print after the message. */
  readonly usage: string;
  /** @param message what was wrong, @param usage the command's help text */
  constructor(message: string, usage: string) {
    super(message);
    this.name = "UsageError";
    this.usage = usage;
  }
}

/** Options of {@linkcode parseFlags}: the flags a command takes, as `node:util` parseArgs has them. */
export type FlagOptions = NonNullable<ParseArgsConfig["options"]>;

/** The `--config PATH` line for a command's usage text, so every command says it the same way. */
export const CONFIG_FLAG_USAGE =
  "  --config PATH   YAML config file (default: built-in; TURNPIKE_PORT and TURNPIKE_STATE_DIR override)";

/**
 * Parses a command's arguments strictly; an unknown flag or a missing value becomes a
 * {@linkcode UsageError}. `--help` and `--config PATH` are always accepted: pass the result to
 * {@linkcode configFromFlags} to load the config it names.
 */
export function parseFlags<T extends FlagOptions>(
  args: string[],
  options: T,
  usage: string,
  allowPositionals = false,
) {
  try {
    return parseArgs({
      args,
      options: { config: { type: "string" }, ...options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals,
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), usage);
  }
}

/** Reads a numeric flag, rejecting what is not a finite number. */
export function numberFlag(
  value: string | boolean | undefined,
  flag: string,
  usage: string,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== "string" || value.trim() === "" || !Number.isFinite(n)) {
    throw new UsageError(`--${flag} expects a number, got "${String(value)}"`, usage);
  }
  return n;
}

/**
 * Loads the config named by a parsed `--config` flag (the built-in default without one), with
 * the environment overrides applied. Throws `ConfigError`, which `main.ts` prints and exits 2.
 */
export function configFromFlags(
  values: { config?: string | boolean | (string | boolean)[] | undefined },
  options: LoadConfigOptions = {},
): Promise<Config> {
  const path = values.config;
  if (path !== undefined && typeof path !== "string") {
    throw new TypeError("configFromFlags expects --config parsed as a single string");
  }
  return loadConfig(path, options);
}

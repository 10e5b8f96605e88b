/** Loads turnpike's YAML config: parse, apply environment overrides, validate, report every problem at once. */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import type { Document } from "yaml";
import { type Config, ConfigSchema, ProxySchema } from "./schema.ts";
import { LoggingSchema } from "./logging_schema.ts";
import { describeSchema, describeValue, formatPath, type Problem, problemsOf } from "./problems.ts";

/** A config that cannot be used; `problems` lists every reason, one line each. */
export class ConfigError extends Error {
  /** The file it came from, or undefined for the built-in default. */
  readonly source: string | undefined;
  /** Each problem as `yaml.path: message` (or `line L, column C: message` for YAML syntax). */
  readonly problems: readonly string[];
  /** @param source the file, undefined for the built-in default; @param problems one line each */
  constructor(source: string | undefined, problems: readonly string[]) {
    const head = source === undefined
      ? "Cannot load the default config"
      : `Cannot load config "${source}"`;
    super(`${head}:\n${problems.map((p) => `  ${p}`).join("\n")}`);
    this.name = "ConfigError";
    this.source = source;
    this.problems = problems;
  }
}

/** Options of {@linkcode loadConfig} and {@linkcode parseConfig}. */
export interface LoadConfigOptions {
  /**
   * Environment to read `TURNPIKE_PORT`, `TURNPIKE_STATE_DIR` and `TURNPIKE_LOG_LEVEL` from; an
   * empty value counts as unset. @default the process environment
   */
  env?: Record<string, string | undefined>;
}

/** Name of the KV file inside `state_dir`. */
export const KV_FILE_NAME = "turnpike.kv";

function processEnv(): Record<string, string | undefined> {
  return {
    TURNPIKE_PORT: Deno.env.get("TURNPIKE_PORT"),
    TURNPIKE_STATE_DIR: Deno.env.get("TURNPIKE_STATE_DIR"),
    TURNPIKE_LOG_LEVEL: Deno.env.get("TURNPIKE_LOG_LEVEL"),
  };
}

/** Environment overrides, checked; bad values become problems named by the variable. */
function envOverrides(
  env: Record<string, string | undefined>,
): EnvOverrides {
  const problems: string[] = [];
  const out: EnvOverrides = { problems };
  const port = env["TURNPIKE_PORT"]?.trim();
  if (port) {
    const parsed = /^\d+$/.test(port) ? ProxySchema.shape.port.safeParse(Number(port)) : undefined;
    if (parsed?.success && parsed.data !== undefined) out.port = parsed.data;
    else {
      problems.push(
        `TURNPIKE_PORT (environment): expected ${describeSchema(ProxySchema.shape.port)}, got ${
          describeValue(env["TURNPIKE_PORT"])
        }; fix or unset it`,
      );
    }
  }
  const stateDir = env["TURNPIKE_STATE_DIR"];
  if (stateDir) out.stateDir = stateDir;
  const level = env["TURNPIKE_LOG_LEVEL"]?.trim().toLowerCase();
  if (level) {
    const parsed = LoggingSchema.shape.level.safeParse(level);
    if (parsed.success) out.logLevel = parsed.data;
    else {
      problems.push(
        `TURNPIKE_LOG_LEVEL (environment): expected one of ${
          LoggingSchema.shape.level.removeDefault().options.join(", ")
        }, got ${describeValue(env["TURNPIKE_LOG_LEVEL"])}; fix or unset it`,
      );
    }
  }
  return out;
}

/** The environment's overrides of the config, and what was wrong with them. */
interface EnvOverrides {
  port?: number;
  stateDir?: string;
  logLevel?: string;
  problems: string[];
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Puts the overrides into the raw document, so the schema checks them with everything else. */
function withOverrides(raw: unknown, env: EnvOverrides): unknown {
  if (!isMapping(raw)) return raw;
  const { port, stateDir, logLevel } = env;
  const out: Record<string, unknown> = { ...raw };
  if (port !== undefined) {
    out["proxy"] = raw["proxy"] === undefined
      ? { port }
      : isMapping(raw["proxy"])
      ? { ...raw["proxy"], port }
      : raw["proxy"];
  }
  if (stateDir !== undefined) out["state_dir"] = stateDir;
  if (logLevel !== undefined) {
    const logging = raw["logging"];
    out["logging"] = logging === undefined
      ? { level: logLevel }
      : isMapping(logging)
      ? { ...logging, level: logLevel }
      : logging;
  }
  return out;
}

/** Where a problem sits in the text, so problems print in the order a reader meets them. */
function offsetOf(doc: Document, path: readonly PropertyKey[]): number {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = doc.getIn(path.slice(0, depth) as unknown[], true) as
      | { range?: [number, number, number] }
      | undefined;
    if (node && typeof node === "object" && node.range) {
      if (depth === path.length - 1) {
        // An unknown key: point at the key itself rather than at its parent mapping.
        const key = path[depth];
        const items = (node as { items?: { key?: { value?: unknown; range?: number[] } }[] }).items;
        const pair = items?.find((p) => p.key?.value === key);
        if (pair?.key?.range?.[0] !== undefined) return pair.key.range[0];
      }
      return node.range[0];
    }
  }
  return Number.MAX_SAFE_INTEGER;
}

/**
 * Parses and validates config text. `source` names it in errors (usually the file path).
 * Throws {@linkcode ConfigError} listing every problem.
 */
export function parseConfig(text: string, source: string, options: LoadConfigOptions = {}): Config {
  const env = envOverrides(options.env ?? processEnv());
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const syntax = doc.errors.map((error) => {
      const { line, col } = lineCounter.linePos(error.pos[0]);
      const message = error.message.split("\n")[0]!.replace(/\s+at line \d+, column \d+:?$/, "");
      return `line ${line}, column ${col}: ${message}`;
    });
    throw new ConfigError(source, [...syntax, ...env.problems]);
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 1000 }) ?? {};
  } catch (error) {
    throw new ConfigError(source, [
      `(top level): ${error instanceof Error ? error.message : String(error)}`,
      ...env.problems,
    ]);
  }
  return validate(withOverrides(raw, env), source, {
    envProblems: env.problems,
    offsetOf: (path) => offsetOf(doc, path),
  });
}

function validate(
  raw: unknown,
  source: string | undefined,
  options: { envProblems: string[]; offsetOf?: (path: readonly PropertyKey[]) => number },
): Config {
  const result = ConfigSchema.safeParse(raw, { reportInput: true });
  if (result.success && options.envProblems.length === 0) return result.data;
  let problems: Problem[] = result.success ? [] : problemsOf(result.error.issues, ConfigSchema);
  const offsetOf = options.offsetOf;
  if (offsetOf) {
    problems = problems
      .map((problem, index) => ({ problem, index, at: offsetOf(problem.path) }))
      .sort((a, b) => a.at - b.at || a.index - b.index)
      .map((p) => p.problem);
  }
  throw new ConfigError(source, [
    ...problems.map((p) => `${formatPath(p.path)}: ${p.message}`),
    ...options.envProblems,
  ]);
}

function readProblem(error: unknown, path: string): string {
  if (error instanceof Deno.errors.NotFound) {
    return `file not found; check the path, or leave out --config for the built-in default`;
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return "permission denied; make the file readable (and run with --allow-read)";
  }
  if (error instanceof Deno.errors.IsADirectory) {
    return `"${path}" is a directory; give a YAML file`;
  }
  return `cannot read the file: ${error instanceof Error ? error.message : String(error)}`;
}

/**
 * Reads, validates and defaults the config at `path`, with the environment overrides
 * `TURNPIKE_PORT` (proxy.port) and `TURNPIKE_STATE_DIR` (state_dir) applied. `path` undefined
 * means the built-in default: every default, no models. Throws {@linkcode ConfigError}.
 */
export async function loadConfig(
  path: string | undefined,
  options: LoadConfigOptions = {},
): Promise<Config> {
  if (path === undefined) {
    const env = envOverrides(options.env ?? processEnv());
    return validate(withOverrides({}, env), undefined, {
      envProblems: env.problems,
    });
  }
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new ConfigError(path, [readProblem(error, path)]);
  }
  return parseConfig(text, path, options);
}

/** A `state_dir` the KV file cannot be created or written in (a read-only or missing file system). */
export class StateDirError extends ConfigError {
  /** @param dir the state directory; @param problem why it cannot be used */
  constructor(dir: string, problem: string) {
    super(undefined, [`state_dir: ${problem}`]);
    this.name = "StateDirError";
    this.message = `Cannot use the state directory "${dir}":\n  state_dir: ${problem}`;
  }
}

/**
 * The KV file's path inside `config.state_dir`, creating the directory when it is missing. Throws
 * a {@linkcode StateDirError} naming `state_dir` when the directory cannot be created or the file
 * cannot be written (Deno KV cannot open a file it may not write).
 */
export function kvPath(config: Pick<Config, "state_dir">): string {
  const dir = config.state_dir;
  const path = join(dir, KV_FILE_NAME);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new StateDirError(
      dir,
      `cannot create it (${
        reasonOf(error)
      }); set state_dir or TURNPIKE_STATE_DIR to a writable directory`,
    );
  }
  try {
    Deno.openSync(path, { write: true, create: true }).close();
  } catch (error) {
    throw new StateDirError(
      dir,
      `the KV file "${path}" cannot be written (${
        reasonOf(error)
      }); turnpike keeps sessions, keys and records there: ` +
        "make it writable, or set state_dir or TURNPIKE_STATE_DIR to a writable directory",
    );
  }
  return path;
}

function reasonOf(error: unknown): string {
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Error && /read-only file system|EROFS/i.test(error.message)) {
    return "read-only file system";
  }
  return error instanceof Error ? error.message : String(error);
}

/** Structured logs: one JSON object per line on stderr, written asynchronously so no caller waits on the terminal or a pipe. */

/** The log levels, least severe first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** One of {@linkcode LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];

/** The fields of a log line besides `time`, `level` and `msg`. */
export type LogFields = Record<string, unknown>;

/** Options of {@linkcode Logger}. */
export interface LoggerOptions {
  /** Lines below it are dropped. @default "info" */
  level?: LogLevel;
  /** Where finished text goes (many lines at once); awaited before the next batch. @default stderr */
  write?: (text: string) => Promise<void> | void;
  /** Lines buffered while a write is under way; past it, lines are dropped and counted. @default 10000 */
  maxPending?: number;
  /** Clock in ms since the epoch, for `time`. @default Date.now */
  now?: () => number;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const encoder = new TextEncoder();

async function writeStderr(text: string): Promise<void> {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) written += await Deno.stderr.write(bytes.subarray(written));
}

/** Whether `value` names a log level. */
export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

/** An error as a log field: its message (and name when not a plain Error), without the stack unless asked. */
export function errorField(error: unknown): string {
  if (error instanceof Error) {
    return error.name === "Error" ? error.message : `${error.name}: ${error.message}`;
  }
  return String(error);
}

/**
 * A JSON-lines logger. A call formats its line at once and returns; the lines go out in batches
 * by one write at a time, so a slow reader of stderr slows no request (lines past `maxPending`
 * are dropped and counted in {@linkcode dropped}).
 */
export class Logger {
  #rank: number;
  #level: LogLevel;
  #write: (text: string) => Promise<void> | void;
  #maxPending: number;
  #now: () => number;
  #pending: string[] = [];
  #writing: Promise<void> | undefined;
  /** Lines dropped because the writer fell behind by `maxPending` lines. */
  dropped = 0;

  /** @param options level, writer, buffer bound and clock */
  constructor(options: LoggerOptions = {}) {
    this.#level = options.level ?? "info";
    this.#rank = RANK[this.#level];
    this.#write = options.write ?? writeStderr;
    this.#maxPending = options.maxPending ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** The level lines must reach to be written. */
  get level(): LogLevel {
    return this.#level;
  }

  /** Changes the level (and, when given, the writer). */
  configure(options: { level?: LogLevel; write?: (text: string) => Promise<void> | void }): void {
    if (options.level !== undefined) {
      this.#level = options.level;
      this.#rank = RANK[options.level];
    }
    if (options.write !== undefined) this.#write = options.write;
  }

  /** Whether a line at `level` would be written: check it before building costly fields. */
  enabled(level: LogLevel): boolean {
    return RANK[level] >= this.#rank;
  }

  /** Logs at debug. */
  debug(msg: string, fields?: LogFields): void {
    this.log("debug", msg, fields);
  }

  /** Logs at info. */
  info(msg: string, fields?: LogFields): void {
    this.log("info", msg, fields);
  }

  /** Logs at warn. */
  warn(msg: string, fields?: LogFields): void {
    this.log("warn", msg, fields);
  }

  /** Logs at error. */
  error(msg: string, fields?: LogFields): void {
    this.log("error", msg, fields);
  }

  /** Logs `msg` with `fields` at `level`: `{"time","level","msg",...fields}` on one line. */
  log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (RANK[level] < this.#rank) return;
    if (this.#pending.length >= this.#maxPending) {
      this.dropped++;
      return;
    }
    const head = { time: new Date(this.#now()).toISOString(), level, msg };
    let line: string;
    try {
      line = JSON.stringify(fields === undefined ? head : { ...head, ...fields, ...head });
    } catch {
      line = JSON.stringify({ ...head, fields: "unserializable" });
    }
    this.#pending.push(line);
    this.#writing ??= this.#drain();
  }

  /** Resolves once every line logged so far is written. */
  async flush(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing;
  }

  async #drain(): Promise<void> {
    // Lines logged in the same task are written together, after it.
    await Promise.resolve();
    while (this.#pending.length > 0) {
      const text = this.#pending.join("\n") + "\n";
      this.#pending = [];
      try {
        await this.#write(text);
      } catch {
        // stderr is gone (a closed pipe): there is nowhere left to say so.
      }
    }
    this.#writing = undefined;
  }
}

/** The process's logger: every runtime log line of the gateway, its actors and its replicas goes here. */
export const logger: Logger = new Logger();

/**
 * The load benchmarks' child processes: each leads its own process group (spawned detached), so
 * stopping one stops everything it started, and each can get a raised open-files soft limit.
 */

const ROOT = new URL("../../", import.meta.url).pathname;
const MAIN = `${ROOT}main.ts`;
const TAIL_LINES = 30;

/** Signals process group `pid`; never the bare pid, which may belong to someone else once reaped. */
function signalGroup(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pid, signal);
  } catch {
    // The whole group is gone.
  }
}

/** Waits `ms`, or less when `until` settles first, leaving no timer behind. */
function sleep(ms: number, until: Promise<unknown>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    new Promise<void>((resolve) => timer = setTimeout(resolve, ms)),
    until.then(() => {}, () => {}),
  ]).finally(() => clearTimeout(timer));
}

/** The open-files limits of this process, from `/proc/self/limits`; undefined off Linux. */
export interface FileLimits {
  soft: number;
  hard: number;
}

/** Parses the "Max open files" line of a `/proc/<pid>/limits` text; undefined when it is missing. */
export function parseFileLimits(text: string): FileLimits | undefined {
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!match) return undefined;
  const value = (s: string) => s === "unlimited" ? Infinity : Number(s);
  return { soft: value(match[1]!), hard: value(match[2]!) };
}

/** This process's open-files limits; undefined where `/proc` cannot tell. */
export function fileLimits(): FileLimits | undefined {
  try {
    return parseFileLimits(Deno.readTextFileSync("/proc/self/limits"));
  } catch {
    return undefined;
  }
}

/**
 * The open-files soft limit a child needs for `needed` descriptors: undefined when the current
 * soft limit already covers it (or nothing can be read), else `needed`, which the child's shell
 * sets. Throws when even the hard limit is too low, since no child could then raise it.
 */
export function softLimitFor(needed: number, limits = fileLimits()): number | undefined {
  if (limits === undefined || limits.soft >= needed) return undefined;
  if (limits.hard < needed) {
    throw new Error(
      `The benchmark needs ${needed} open files per process but the hard limit is ${limits.hard}: ` +
        `raise it (ulimit -Hn ${needed} as root) or pass a lower --concurrency`,
    );
  }
  return needed;
}

/** Options of {@linkcode spawnGroup}. */
export interface SpawnGroupOptions {
  /** Raise the child's open-files soft limit to this many (through `sh -c ulimit`). */
  nofile?: number | undefined;
  /** Keep everything the child prints on stdout (for a JSON answer). @default false */
  keepStdout?: boolean;
  /** Where stderr goes: into the tail with stdout, or to this process's stderr. @default "tail" */
  stderr?: "tail" | "inherit";
}

/** A child process leading its own process group. */
export class GroupChild {
  readonly #child: Deno.ChildProcess;
  readonly #tail: string[] = [];
  readonly #drains: Promise<void>[];
  readonly #listeners = new Set<(line: string) => void>();
  #stdout = "";
  #stopping: Promise<void> | undefined;
  /** How it exited, once it has. */
  readonly status: Promise<Deno.CommandStatus>;
  /** What the child is, in error messages. */
  readonly label: string;

  /** @param argv the program and its arguments, @param label what it is, @param options limits and output */
  constructor(argv: readonly string[], label: string, options: SpawnGroupOptions = {}) {
    const full = options.nofile === undefined
      ? argv
      : ["sh", "-c", 'ulimit -Sn "$0" && exec "$@"', String(options.nofile), ...argv];
    this.label = label;
    this.#child = new Deno.Command(full[0]!, {
      args: full.slice(1),
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: options.stderr === "inherit" ? "inherit" : "piped",
      detached: true,
    }).spawn();
    const keep = options.keepStdout === true;
    this.#drains = [this.#drain(this.#child.stdout, keep)];
    if (options.stderr !== "inherit") this.#drains.push(this.#drain(this.#child.stderr!, false));
    this.status = this.#child.status;
  }

  /** Its process id (the leader of its group). */
  get pid(): number {
    return this.#child.pid;
  }

  /** All it printed on stdout, when spawned with `keepStdout`. */
  get stdout(): string {
    return this.#stdout;
  }

  /** The last lines it printed. */
  tail(): string {
    return this.#tail.join("\n");
  }

  async #drain(stream: ReadableStream<Uint8Array>, keep: boolean): Promise<void> {
    let buffer = "";
    try {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        if (keep) this.#stdout += chunk;
        buffer += chunk;
        let nl: number;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          this.#line(buffer.slice(0, nl));
          buffer = buffer.slice(nl + 1);
        }
      }
    } catch {
      // The stream broke as the process was killed: what was read is kept.
    }
    if (buffer !== "") this.#line(buffer);
  }

  #line(line: string): void {
    this.#tail.push(line);
    if (this.#tail.length > TAIL_LINES) this.#tail.shift();
    for (const listener of this.#listeners) listener(line);
  }

  /**
   * Resolves with the first printed line `pattern` matches (also one printed before the call);
   * rejects when the child exits first or `timeoutMs` passes.
   */
  async waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    for (const line of this.#tail) {
      const match = pattern.exec(line);
      if (match) return match;
    }
    const found = Promise.withResolvers<RegExpExecArray>();
    const listener = (line: string) => {
      const match = pattern.exec(line);
      if (match) found.resolve(match);
    };
    this.#listeners.add(listener);
    const exited = this.status.then((s) => {
      throw new Error(`${this.label} exited with code ${s.code}; its last output:\n${this.tail()}`);
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${this.label} did not start in time; its output:\n${this.tail()}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([found.promise, exited, late]);
    } finally {
      this.#listeners.delete(listener);
      clearTimeout(timer);
      exited.catch(() => {});
    }
  }

  /** Its exit, with its output drained. */
  async done(): Promise<Deno.CommandStatus> {
    const status = await this.status;
    await Promise.allSettled(this.#drains);
    return status;
  }

  /** Stops its whole process group: SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs = 5_000): Promise<void> {
    this.#stopping ??= (async () => {
      signalGroup(this.pid, "SIGTERM");
      await sleep(graceMs, this.status);
      // Whatever of the group outlived the grace (or ignored SIGTERM) goes now.
      signalGroup(this.pid, "SIGKILL");
      await this.done();
    })();
    return this.#stopping;
  }
}

/** Spawns `deno run -A main.ts <args>` as a process group. */
export function spawnMain(
  args: readonly string[],
  label: string,
  options: SpawnMainOptions = {},
): GroupChild {
  const runFlags = options.runFlags ?? [];
  return new GroupChild([Deno.execPath(), "run", "-A", ...runFlags, MAIN, ...args], label, options);
}

/**
 * Starts `count` simulated replicas of `model` (`deno task sim` on a free port, the approximate
 * tokenizer, seed `i` for replica `i`, then `extraArgs(i)`), each its own process group pushed to
 * `children` at once (so a caller's cleanup stops it even if a later one fails), and answers
 * their URLs once each printed it.
 */
export async function startSims(
  count: number,
  options: {
    model: string;
    children: GroupChild[];
    extraArgs?: (i: number) => readonly string[];
    nofile?: number | undefined;
  },
): Promise<string[]> {
  const urls: string[] = [];
  for (let i = 0; i < count; i++) {
    const sim = spawnMain(
      [
        "sim",
        "--base-port",
        "0",
        "--tokenizer",
        "approx",
        "--model",
        options.model,
        "--seed",
        String(i),
        ...(options.extraArgs?.(i) ?? []),
      ],
      `simulated replica ${i}`,
      options.nofile === undefined ? {} : { nofile: options.nofile },
    );
    options.children.push(sim);
    urls.push((await sim.waitForLine(/listening on (http:\/\/\S+)/, 60_000))[1]!);
  }
  return urls;
}

/** Settings of {@linkcode spawnMain}. */
export interface SpawnMainOptions extends SpawnGroupOptions {
  /** Flags of `deno run` before main.ts, e.g. `--v8-flags=...` for this process alone. */
  runFlags?: readonly string[];
}

/**
 * Runs the Deno script `script` (a path from the repository root) with `args` as a process group
 * and answers the JSON it prints on stdout; its stderr goes to ours. Stops the group when
 * `signal` aborts; throws when it fails.
 */
export async function runJsonChild<T>(
  script: string,
  args: readonly string[],
  label: string,
  options: { nofile?: number | undefined; signal?: AbortSignal } = {},
): Promise<T> {
  const child = new GroupChild(
    [Deno.execPath(), "run", "-A", `${ROOT}${script}`, ...args],
    label,
    { nofile: options.nofile, keepStdout: true, stderr: "inherit" },
  );
  const abort = () => void child.stop(1_000);
  options.signal?.addEventListener("abort", abort);
  try {
    const status = await child.done();
    if (!status.success) throw new Error(`${label} failed with exit code ${status.code}`);
    return JSON.parse(child.stdout) as T;
  } finally {
    options.signal?.removeEventListener("abort", abort);
    // A child that failed halfway may have left something of its group behind.
    signalGroup(child.pid, "SIGKILL");
  }
}

/** The resident set of process `pid` in bytes (`VmRSS` of `/proc/<pid>/status`); undefined when gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Open file descriptors of process `pid` (entries of `/proc/<pid>/fd`); undefined when unreadable. */
export function openFiles(pid: number): number | undefined {
  try {
    let count = 0;
    for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) count++;
    return count;
  } catch {
    return undefined;
  }
}

/**
 * The V8 flags `deno task serve` runs the gateway with (`--v8-flags=...` in deno.json's `serve`
 * task), so that a benchmark's gateway process runs as a deployed one does; "" when it has none.
 */
export function serveTaskV8Flags(denoJson: string = `${ROOT}deno.json`): string {
  const config = JSON.parse(Deno.readTextFileSync(denoJson)) as { tasks?: { serve?: string } };
  return /(?:^|\s)--v8-flags=(\S+)/.exec(config.tasks?.serve ?? "")?.[1] ?? "";
}

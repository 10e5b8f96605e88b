/** {@linkcode LocalShell}: SLURM's commands run on this machine (no `cluster.slurm.ssh`), through Deno.Command. */
import type { ExecResult, Shell } from "./slurm/types.ts";

/** Options of {@linkcode LocalShell}. */
export interface LocalShellOptions {
  /** Variables set on top of this process's environment (`SLURM_CONF` for a private cluster). */
  env?: Record<string, string>;
  /** The working directory of every command. @default this process's */
  cwd?: string;
}

/** Exit code a shell gives for a command it cannot find, so callers see what SSH would show. */
const NOT_FOUND = 127;

/** Runs commands as child processes of this one, without a shell in between. */
export class LocalShell implements Shell {
  readonly where = "local";
  readonly #options: LocalShellOptions;
  readonly #running = new Set<Deno.ChildProcess>();

  /** @param options environment and working directory of the commands */
  constructor(options: LocalShellOptions = {}) {
    this.#options = options;
  }

  #spawn(
    argv: readonly string[],
    stdin: boolean,
    stderr: "piped" | "null",
  ): Deno.ChildProcess | ExecResult {
    const [program, ...args] = argv;
    if (program === undefined) throw new TypeError("exec needs at least the program to run");
    try {
      const child = new Deno.Command(program, {
        args,
        stdin: stdin ? "piped" : "null",
        stdout: "piped",
        stderr,
        ...(this.#options.env ? { env: this.#options.env } : {}),
        ...(this.#options.cwd ? { cwd: this.#options.cwd } : {}),
      }).spawn();
      this.#running.add(child);
      child.status.finally(() => this.#running.delete(child));
      return child;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        return { code: NOT_FOUND, stdout: "", stderr: `${program}: command not found` };
      }
      throw error;
    }
  }

  async exec(
    argv: readonly string[],
    options: { stdin?: string; signal?: AbortSignal } = {},
  ): Promise<ExecResult> {
    options.signal?.throwIfAborted();
    const child = this.#spawn(argv, options.stdin !== undefined, "piped");
    if (!(child instanceof Deno.ChildProcess)) return child;
    const abort = () => kill(child);
    options.signal?.addEventListener("abort", abort, { once: true });
    try {
      // Output is read while the input is written, so neither pipe can fill and stall the other.
      const collected = child.output();
      if (options.stdin !== undefined) {
        const writer = child.stdin.getWriter();
        // A command that exits without reading its input closes the pipe: that is its business.
        await writer.write(new TextEncoder().encode(options.stdin)).catch(() => {});
        await writer.close().catch(() => {});
      }
      const output = await collected;
      options.signal?.throwIfAborted();
      const decoder = new TextDecoder();
      return {
        code: output.code,
        stdout: decoder.decode(output.stdout),
        stderr: decoder.decode(output.stderr),
      };
    } finally {
      options.signal?.removeEventListener("abort", abort);
    }
  }

  async stream(
    argv: readonly string[],
    onData: (chunk: string) => void,
    options: { signal?: AbortSignal } = {},
  ): Promise<number> {
    if (options.signal?.aborted) return 0;
    const child = this.#spawn(argv, false, "null");
    if (!(child instanceof Deno.ChildProcess)) return child.code;
    const abort = () => kill(child);
    options.signal?.addEventListener("abort", abort, { once: true });
    try {
      const decoder = new TextDecoder();
      for await (const chunk of child.stdout) {
        const text = decoder.decode(chunk, { stream: true });
        if (text !== "") onData(text);
      }
      const rest = decoder.decode();
      if (rest !== "") onData(rest);
      return (await child.status).code;
    } finally {
      options.signal?.removeEventListener("abort", abort);
    }
  }

  /** Ends the commands still running. */
  async close(): Promise<void> {
    const running = [...this.#running];
    for (const child of running) kill(child);
    await Promise.all(running.map((child) => child.status.catch(() => {})));
  }
}

function kill(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGTERM");
  } catch {
    // Already exited.
  }
}

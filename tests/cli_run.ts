/**
 * `main.ts` as a user runs it, for tests: a real process in its own process group (setsid), so the
 * whole group can be signalled and nothing it started outlives the test.
 */
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** What a finished run printed, and its exit code. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@linkcode spawnCli}. */
export interface SpawnCliOptions {
  /**
   * Variables on top of this process's environment and of the defaults (`NO_COLOR=1`, and
   * `TURNPIKE_PORT` and `TURNPIKE_STATE_DIR` empty so the caller's own do not leak in).
   */
  env?: Record<string, string>;
  /** Where the child's stderr goes. @default "piped" */
  stderr?: "piped" | "inherit";
}

/**
 * Starts `deno run -A main.ts ...args` from the repository root, stdin closed, stdout piped, as
 * the leader of its own process group (a setsid child has the group's id as its pid).
 */
export function spawnCli(args: string[], options: SpawnCliOptions = {}): Deno.ChildProcess {
  return new Deno.Command("setsid", {
    args: [Deno.execPath(), "run", "-A", "main.ts", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", TURNPIKE_PORT: "", TURNPIKE_STATE_DIR: "", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: options.stderr ?? "piped",
  }).spawn();
}

/** Sends `signal` to the process group `pid` leads; a group that is gone already is no error. */
export function killGroup(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pid, signal);
  } catch {
    // The group is gone.
  }
}

/** Options of {@linkcode runCli}. */
export interface RunCliOptions {
  /** How long the run may take before its group is killed. @default 60_000 */
  timeoutMs?: number;
  /** As {@linkcode SpawnCliOptions.env}. */
  env?: Record<string, string>;
}

/**
 * Runs `main.ts ...args` to its end and answers what it printed. Its group is killed when it has
 * not exited after `timeoutMs` (a command that should have ended, a serve that should have
 * refused to start), and again once it exited, so nothing it started is left running.
 */
export async function runCli(args: string[], options: RunCliOptions = {}): Promise<CliRun> {
  const child = spawnCli(args, options.env ? { env: options.env } : {});
  const timer = setTimeout(() => killGroup(child.pid, "SIGKILL"), options.timeoutMs ?? 60_000);
  try {
    const output = await child.output();
    const text = new TextDecoder();
    return {
      code: output.code,
      stdout: text.decode(output.stdout),
      stderr: text.decode(output.stderr),
    };
  } finally {
    clearTimeout(timer);
    killGroup(child.pid, "SIGKILL");
  }
}

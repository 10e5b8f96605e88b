/** `deno task sim` as a child process, for tests and benchmarks that want the simulator apart. */

/** A running `sim` child process. */
export interface SimChild {
  /** Base URL of each replica, in start order. */
  readonly urls: string[];
  /** Its process id. */
  readonly pid: number;
  /** Sends SIGTERM and waits for the process to exit; returns its exit code. */
  stop(): Promise<number>;
}

/** Options of {@linkcode spawnSim}. */
export interface SpawnSimOptions {
  /** Replicas to run (`--replicas`). @default 1 */
  replicas?: number;
}

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/**
 * Runs `main.ts sim` with `args` (which must bind port 0, e.g. `--base-port 0`) and waits until
 * each of its `replicas` says where it listens.
 * @example
 * ```ts
 * const sim = await spawnSim(["--base-port", "0", "--tokenizer", "approx"]);
 * await fetch(`${sim.urls[0]}/health`);
 * await sim.stop();
 * ```
 */
export async function spawnSim(
  args: readonly string[],
  options: SpawnSimOptions = {},
): Promise<SimChild> {
  const replicas = options.replicas ?? 1;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "sim", "--replicas", String(replicas), ...args],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* it has exited already */ }
    await reader.cancel();
    return (await child.status).code;
  };
  let out = "";
  while ((out.match(/listening on/g) ?? []).length < replicas) {
    const { value, done } = await reader.read();
    if (done) {
      await stop();
      throw new Error(
        "The sim child process exited before listening: run `deno task sim` to see why",
      );
    }
    out += value;
  }
  const urls = [...out.matchAll(/listening on (\S+)/g)].map((m) => m[1]!);
  return { urls, pid: child.pid, stop };
}

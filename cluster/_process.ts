/** Process plumbing of the local launcher: its output tail, log copying, group signals and timers. */

const TAIL_BYTES = 4096;

/** Keeps the last few kilobytes a process printed. */
export class OutputTail {
  #chunks: Uint8Array[] = [];
  #bytes = 0;

  /** Adds what the process printed next. */
  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    while (this.#bytes - (this.#chunks[0]?.length ?? 0) >= TAIL_BYTES) {
      this.#bytes -= this.#chunks.shift()!.length;
    }
  }

  /** The last `maxLines` lines kept. */
  text(maxLines = 15): string {
    const all = new Uint8Array(this.#bytes);
    let at = 0;
    for (const chunk of this.#chunks) {
      all.set(chunk, at);
      at += chunk.length;
    }
    const lines = new TextDecoder().decode(all).trimEnd().split("\n");
    return lines.slice(-maxLines).join("\n");
  }
}

/**
 * Signals the replica's process group (it leads its own, being spawned detached). Never the bare
 * pid as a fallback: once the leader is reaped its pid may belong to someone else.
 */
export function signalGroup(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pid, signal);
  } catch {
    // The whole group is gone: nothing left to signal.
  }
}

/** Waits `ms`, or less when `until` settles first; never leaves a timer behind. */
export function sleep(ms: number, until: Promise<unknown>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    new Promise<void>((resolve) => timer = setTimeout(resolve, ms)),
    until.then(() => {}, () => {}),
  ]).finally(() => clearTimeout(timer));
}

/** Copies a child's output stream into the log file (if any) and the tail. */
export async function pump(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  tail: OutputTail,
  write: (chunk: Uint8Array) => Promise<void>,
): Promise<void> {
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      tail.push(value);
      await write(value);
    }
  } catch {
    // The stream was cancelled after the process exited: what was read is kept.
  }
}

/** Writes all of `chunk` to `file`. */
export async function writeAll(file: Deno.FsFile, chunk: Uint8Array): Promise<void> {
  let written = 0;
  while (written < chunk.length) written += await file.write(chunk.subarray(written));
}

/** Test helper: runs durable_worker.ts as a child process, reads its lines, and kills it. */

const WORKER = new URL("./durable_worker.ts", import.meta.url).pathname;
const ROOT = new URL("../../../", import.meta.url).pathname;

/** A running worker process. */
export class Worker {
  readonly lines: string[] = [];
  readonly #process: Deno.ChildProcess;
  readonly #reading: Promise<void>;
  readonly #stderr: Promise<string>;
  #waiters: (() => void)[] = [];
  #exited = false;

  private constructor(process: Deno.ChildProcess) {
    this.#process = process;
    this.#reading = this.#read();
    this.#stderr = new Response(process.stderr).text();
  }

  /** Starts a worker with these flags. */
  static start(args: string[]): Worker {
    const process = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--unstable-kv", WORKER, ...args],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    return new Worker(process);
  }

  async #read(): Promise<void> {
    let buffer = "";
    for await (const text of this.#process.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += text;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        this.lines.push(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
      }
      for (const w of this.#waiters.splice(0)) w();
    }
    this.#exited = true;
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Waits for a line matching `pattern` (searching lines already read too). */
  async waitLine(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    let from = 0;
    for (;;) {
      for (; from < this.lines.length; from++) {
        const m = this.lines[from]?.match(pattern);
        if (m) return m;
      }
      if (this.#exited) {
        throw new Error(`Worker exited before printing ${pattern}: ${await this.#stderr}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`No line matching ${pattern} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Sends `signal` without waiting. */
  signal(signal: Deno.Signal): void {
    this.#process.kill(signal);
  }

  /** What the process wrote to stderr (complete once it has exited). */
  stderr(): Promise<string> {
    return this.#stderr;
  }

  /** Sends `signal` and waits for the process and its pipes to end. */
  async kill(signal: Deno.Signal = "SIGKILL"): Promise<Deno.CommandStatus> {
    try {
      this.#process.kill(signal);
    } catch {
      // already exited
    }
    const status = await this.#process.status;
    await this.#reading;
    await this.#stderr;
    return status;
  }
}

/**
 * Helpers of the fault tests: simulated replicas as real `main.ts sim` processes (each leading its
 * own process group, so a SIGKILL is a real crash and cleanup reaches everything), their fault
 * endpoint, and raw SSE reading that tells an error event and `[DONE]` apart.
 */
import { waitFor } from "../../actors/runtime/testdata/wait.ts";
import { pidFilePath, reapOrphan } from "../../cluster/pidfile.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** Processes started and not reaped yet: a test process that exits early still ends them. */
const live = new Set<SimProcess>();
globalThis.addEventListener("unload", () => {
  for (const sim of live) sim.signal("SIGKILL");
});

/** A `main.ts sim` child process serving one replica on a fixed port. */
export class SimProcess {
  /** Its base URL. */
  readonly url: string;
  /** Its port, kept across restarts. */
  readonly port: number;
  #child: Deno.ChildProcess;
  #args: readonly string[];

  private constructor(child: Deno.ChildProcess, port: number, args: readonly string[]) {
    this.#child = child;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.#args = args;
  }

  /** Starts a replica on `port` (0 picks a free one) with `main.ts sim` flags `args`; resolves once it listens. */
  static async start(port = 0, args: readonly string[] = []): Promise<SimProcess> {
    const { child, port: bound } = await spawn(port, args);
    const sim = new SimProcess(child, bound, args);
    live.add(sim);
    return sim;
  }

  /** Its process id (and process group id). */
  get pid(): number {
    return this.#child.pid;
  }

  /** Sends `signal` to its whole process group; nothing happens when it is gone already. */
  signal(signal: Deno.Signal): void {
    try {
      Deno.kill(-this.#child.pid, signal);
    } catch {
      // The group is gone.
    }
  }

  /** Kills its process group with SIGKILL and waits until it has exited. */
  async kill(): Promise<void> {
    this.signal("SIGKILL");
    await this.#child.status;
    live.delete(this);
  }

  /** Starts it again on the same port, after {@linkcode kill}. */
  async restart(): Promise<void> {
    // The port may stay busy a moment after the kill on a loaded machine.
    const { child } = await waitFor("the sim to restart on its port", async () => {
      try {
        return await spawn(this.port, this.#args);
      } catch {
        return undefined;
      }
    }, { timeoutMs: 20_000, everyMs: 200 });
    this.#child = child;
    live.add(this);
  }

  /** Sets faults by `POST /admin/faults`. */
  async faults(patch: Record<string, unknown>): Promise<void> {
    const res = await fetch(`${this.url}/admin/faults`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(patch),
    });
    await res.body?.cancel();
    if (!res.ok) throw new Error(`POST /admin/faults answered ${res.status}`);
  }

  /** Clears every fault. */
  async clearFaults(): Promise<void> {
    await (await fetch(`${this.url}/admin/faults`, { method: "DELETE" })).body?.cancel();
  }
}

async function spawn(
  port: number,
  args: readonly string[],
): Promise<{ child: Deno.ChildProcess; port: number }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "sim",
      "--port",
      String(port),
      "--tokenizer",
      "approx",
      ...args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const errors = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  let err = "";
  const draining = (async () => {
    for (;;) {
      const { done, value } = await errors.read();
      if (done) return;
      err = (err + value).slice(-4_000);
    }
  })().catch(() => {});
  try {
    while (!/listening on \S+/.test(out)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`The sim on port ${port} exited before listening:\n${err}`);
      out += value;
    }
  } catch (error) {
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      // Gone.
    }
    await child.status;
    throw error;
  }
  // Keep reading both pipes so the child never blocks on a full one.
  void (async () => {
    for (;;) if ((await reader.read()).done) return;
  })().catch(() => {});
  void draining;
  const bound = Number(/listening on http:\/\/[^:]+:(\d+)/.exec(out)?.[1]);
  return { child, port: bound };
}

/** What a raw SSE body held: its data events in order, parsed when JSON. */
export interface SseEvents {
  /** Each event's data, parsed when it is JSON, the raw text otherwise. */
  events: unknown[];
  /** Whether `data: [DONE]` came, and came last. */
  doneLast: boolean;
  /** The error object of the error event, if one came. */
  error: { message: string; type: string; code: string | null } | undefined;
}

/** Reads an SSE response body whole and splits it into events (the body must end). */
export async function readSse(res: Response): Promise<SseEvents> {
  const text = await res.text();
  const datas = text.split(/\r?\n\r?\n/).filter((e) => e.startsWith("data:")).map((e) =>
    e.slice(5).trim()
  );
  const events = datas.map((d) => {
    if (d === "[DONE]") return d;
    try {
      return JSON.parse(d);
    } catch {
      return d;
    }
  });
  const error = events.find((e) => typeof e === "object" && e !== null && "error" in e) as
    | { error: SseEvents["error"] }
    | undefined;
  return { events, doneLast: events.at(-1) === "[DONE]", error: error?.error };
}

/** POSTs a chat completion to `gatewayUrl`; `stream` asks for SSE. */
export function postChat(
  gatewayUrl: string,
  content: string,
  options: { stream?: boolean; maxTokens?: number; model?: string } = {},
): Promise<Response> {
  return fetch(`${gatewayUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: options.model ?? "llama-3.1-8b-sim",
      messages: [{ role: "user", content }],
      max_tokens: options.maxTokens ?? 8,
      stream: options.stream ?? false,
    }),
  });
}

export { waitFor };

/**
 * Ends the process groups of the replicas a gateway launched under `stateDir` (`cluster.type:
 * local`) that still run, as the next serve on that state_dir would (`reapOrphan`): they lead
 * groups of their own, so killing the gateway's group leaves them behind when a test fails
 * before the gateway stopped them.
 */
export async function killLaunchedReplicas(
  stateDir: string,
  model: string,
  count: number,
): Promise<void> {
  for (let i = 0; i < count; i++) await reapOrphan(pidFilePath(stateDir, model, i), 0);
}

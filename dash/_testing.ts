/** Test helpers of the dashboards: a real `serve` process (restartable on its port) and steady traffic. */
import { freePort } from "../cluster/ports.ts";
import { readUntil } from "../tests/process_output.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** A `deno task serve` process with the built-in config (two simulated replicas). */
export interface ServeProcess {
  url: string;
  port: number;
  /** Stops it (SIGTERM to its process group, SIGKILL after 15 s) and waits for the exit. */
  stop(): Promise<void>;
}

/** Signals the process group `pid` leads; nothing when it is gone. */
function signalGroup(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}

/** Starts `serve` on `port` (a free one by default) with `stateDir`, and waits for "Ready". */
export async function startServe(
  stateDir: string,
  options: { port?: number; env?: Record<string, string>; config?: string } = {},
): Promise<ServeProcess> {
  const port = options.port ?? freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "serve",
      "--port",
      String(port),
      ...(options.config ? ["--config", options.config] : []),
    ],
    env: { TURNPIKE_STATE_DIR: stateDir, TURNPIKE_LOG_LEVEL: "warn", ...options.env },
    stdout: "piped",
    stderr: "null",
    detached: true,
  }).spawn();
  const reader = child.stdout.getReader();
  const stop = async () => {
    signalGroup(child.pid, "SIGTERM");
    const timer = setTimeout(() => signalGroup(child.pid, "SIGKILL"), 15_000);
    await child.status;
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
  };
  try {
    await readUntil(reader, /Ready: /, 90_000);
  } catch (error) {
    await stop();
    throw error;
  }
  // Keep draining stdout so the gateway never blocks on a full pipe.
  (async () => {
    try {
      while (!(await reader.read()).done) { /* drained */ }
    } catch {
      // Cancelled by stop().
    }
  })();
  return { url: `http://127.0.0.1:${port}`, port, stop };
}

/** Streamed chat turns in a loop, in a few sessions, until stopped (failures are ignored: the gateway may be down). */
export function startTraffic(
  url: () => string,
  headers: Record<string, string> = {},
): { stop(): Promise<void> } {
  let running = true;
  const loop = async (session: number) => {
    let turn = 0;
    while (running) {
      turn++;
      try {
        const response = await fetch(`${url()}/v1/chat/completions`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-session-id": `dash-test-${session}`,
            ...headers,
          },
          body: JSON.stringify({
            model: "llama-3.1-8b-sim",
            messages: [{
              role: "user",
              content: `turn ${turn} of session ${session}: say something`,
            }],
            max_tokens: 24,
            stream: true,
          }),
          signal: AbortSignal.timeout(20_000),
        });
        await response.text().catch(() => "");
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  };
  const loops = [0, 1, 2].map(loop);
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

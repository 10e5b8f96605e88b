/**
 * Target 2 of `bench sessions`: the gateway memory that idle sessions cost. The gateway runs as its
 * own process (bench/sessions/gateway_child.ts), so its RSS is its own, and reports its heap after
 * forced garbage collections; sessions get one turn each, then passivate.
 */
import { join } from "node:path";
import { freePort } from "../../cluster/mod.ts";
import { upstreamHandler } from "../proxy/upstream.ts";
import type { MemoryReading } from "./gateway_child.ts";
import { createRetries, createSession } from "./http.ts";
import { userText } from "./text.ts";
import { mbPer10k } from "./verdicts.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const ROOT = new URL("../..", import.meta.url).pathname;

/** Settings of {@linkcode measureMemory}. */
export interface MemoryOptions {
  /** Sessions to create, one turn each. */
  sessions: number;
  /** Sessions created and passivated before the baseline, so pools and the JIT are warm. */
  warmupSessions: number;
  /** Clients creating sessions at once. */
  concurrency: number;
  /** `sessions.idle_passivate` of the gateway, in seconds. */
  idlePassivateS: number;
}

/** What the memory target measured. */
export interface MemoryResult {
  sessions: number;
  warmupSessions: number;
  idlePassivateS: number;
  /** Seconds creating the sessions and their turns took. */
  createS: number;
  /** Creates answered 503 `session_store_busy` and tried again. */
  createRetries: number;
  baseline: MemoryReading;
  /** Right after the last turn, before the idle actors passivate. */
  active: MemoryReading;
  /** Once every session actor has passivated. */
  idle: MemoryReading;
  idleRssMbPer10k: number;
  idleHeapMbPer10k: number;
  activeRssMbPer10k: number;
  activeHeapMbPer10k: number;
}

/** A gateway child process that reports its memory when asked. */
class GatewayChild {
  readonly port: number;
  readonly #child: Deno.ChildProcess;
  readonly #lines: AsyncIterator<string>;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;

  private constructor(child: Deno.ChildProcess, lines: AsyncIterator<string>, port: number) {
    this.#child = child;
    this.#lines = lines;
    this.port = port;
    this.#stdin = child.stdin.getWriter();
  }

  static async start(configPath: string): Promise<GatewayChild> {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--v8-flags=--expose-gc",
        join(ROOT, "bench/sessions/gateway_child.ts"),
        `--config=${configPath}`,
      ],
      cwd: ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = linesOf(child.stdout);
    for (;;) {
      const next = await lines.next();
      if (next.done) throw new Error("The gateway child exited before it listened");
      const match = /^listening (\d+)$/.exec(next.value);
      if (match) return new GatewayChild(child, lines, Number(match[1]));
    }
  }

  async measure(): Promise<MemoryReading> {
    await this.#stdin.write(encoder.encode("measure\n"));
    for (;;) {
      const next = await this.#lines.next();
      if (next.done) throw new Error("The gateway child exited while measuring");
      if (next.value.startsWith("{")) return JSON.parse(next.value) as MemoryReading;
    }
  }

  async stop(): Promise<void> {
    await this.#stdin.close().catch(() => {});
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGTERM");
      } catch { /* gone */ }
    }, 5_000);
    await this.#child.status;
    clearTimeout(timer);
  }
}

async function* linesOf(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffered = "";
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
    }
  }
}

async function expectOk(res: Response, what: string): Promise<string> {
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${what}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return text;
}

/** Creates `count` sessions with one turn each, `concurrency` at a time. */
async function createSessions(
  base: string,
  count: number,
  concurrency: number,
  offset: number,
): Promise<void> {
  let next = 0;
  async function worker(): Promise<void> {
    for (let i = next++; i < count; i = next++) {
      const id = await createSession(base, {
        model: "bench",
        system: "You are a coding agent. Answer briefly.",
        metadata: { bench: "memory" },
      });
      await expectOk(
        await fetch(`${base}/v1/sessions/${id}/chat`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ message: userText(offset + i, 0, 400), max_tokens: 10 }),
        }),
        "A session turn",
      );
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
}

async function untilPassivated(child: GatewayChild, timeoutMs: number): Promise<MemoryReading> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reading = await child.measure();
    if (reading.sessionActors === 0) return reading;
    if (Date.now() > deadline) {
      throw new Error(
        `${reading.sessionActors} session actors were still in memory after ${timeoutMs} ms; check sessions.idle_passivate`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Starts a zero-latency backend here and a gateway child, and measures idle sessions' memory. */
export async function measureMemory(options: MemoryOptions): Promise<MemoryResult> {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-bench-sessions-memory-" });
  const listening = Promise.withResolvers<Deno.NetAddr>();
  const upstream = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: (addr) => listening.resolve(addr),
  }, upstreamHandler);
  let child: GatewayChild | undefined;
  try {
    const upstreamPort = (await listening.promise).port;
    const configPath = join(dir, "turnpike.yaml");
    await Deno.writeTextFile(
      configPath,
      [
        `proxy: {host: 127.0.0.1, port: ${freePort()}}`,
        `models: [{name: bench, endpoints: ["http://127.0.0.1:${upstreamPort}"]}]`,
        `sessions: {idle_passivate: ${options.idlePassivateS}}`,
        // Memory is measured here, not admission: the burst of creates is not shed as overload.
        "admission: {adaptive: false}",
        `state_dir: ${join(dir, "state")}`,
        "",
      ].join("\n"),
    );
    child = await GatewayChild.start(configPath);
    const base = `http://127.0.0.1:${child.port}`;
    const passivateMs = options.idlePassivateS * 1000 * 3 + 30_000;
    await createSessions(base, options.warmupSessions, options.concurrency, 1_000_000);
    const baseline = await untilPassivated(child, passivateMs);
    const t0 = performance.now();
    await createSessions(base, options.sessions, options.concurrency, 0);
    const createS = (performance.now() - t0) / 1000;
    const active = await child.measure();
    const idle = await untilPassivated(child, passivateMs);
    const per10k = (reading: MemoryReading, key: "rssBytes" | "heapUsedBytes") =>
      mbPer10k(reading[key] - baseline[key], options.sessions);
    return {
      sessions: options.sessions,
      warmupSessions: options.warmupSessions,
      idlePassivateS: options.idlePassivateS,
      createS,
      createRetries: createRetries.count,
      baseline,
      active,
      idle,
      idleRssMbPer10k: per10k(idle, "rssBytes"),
      idleHeapMbPer10k: per10k(idle, "heapUsedBytes"),
      activeRssMbPer10k: per10k(active, "rssBytes"),
      activeHeapMbPer10k: per10k(active, "heapUsedBytes"),
    };
  } finally {
    await child?.stop();
    await upstream.shutdown();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

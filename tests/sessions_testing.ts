/**
 * Helpers of the durable-session tests: gateway processes (`main.ts serve`) on one state dir,
 * killed with SIGKILL and restarted on the same KV file, in front of simulated replicas that this
 * test process runs (so a killed gateway leaves no replica behind), and the HTTP calls the tests
 * make to them.
 */
import { createParser } from "eventsource-parser";
import OpenAI from "openai";
import {
  DEFAULT_SIM_MODEL,
  type SimServer,
  type SimulatorOptions,
  startSimulator,
} from "../sim/mod.ts";
import { waitFor } from "../actors/runtime/testdata/wait.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const ROOT = new URL("../", import.meta.url).pathname;

/** The system prompt of the sessions {@linkcode GatewayProcess.createSession} makes. */
export const SYSTEM = "You are terse.";

/** The model every test gateway serves. */
export const MODEL = DEFAULT_SIM_MODEL;

/** One turn as `GET /v1/sessions/:id/history?include=sent` shows it. */
export interface TurnView {
  turn: number;
  status: string;
  request_id: string;
  input: { role: string; content?: unknown }[];
  output: { role: string; content?: unknown }[];
  finish_reason: string | null;
  sent: { messages: number; prompt?: { role: string; content?: unknown }[] };
}

/** What {@linkcode GatewayProcess.start} needs. */
export interface GatewayStartOptions {
  /** The config file. */
  configPath: string;
  /** Its `TURNPIKE_STATE_DIR`: gateways given the same one share a KV file. */
  stateDir: string;
  /** A name in failure messages. @default "gateway" */
  label?: string;
  /** How long it may take to print its Ready line, in ms. @default 60000 */
  readyTimeoutMs?: number;
}

/** A `main.ts serve` child process, leading its own process group. */
export class GatewayProcess {
  /** Its base URL, once ready. */
  url = "";
  /** What it printed (stdout and stderr), for failure messages. */
  output = "";
  /** Its name in failure messages. */
  readonly label: string;
  readonly #child: Deno.ChildProcess;
  readonly #pumps: Promise<void>[];
  #exited = false;

  private constructor(child: Deno.ChildProcess, label: string) {
    this.#child = child;
    this.label = label;
    this.#pumps = [this.#pump(child.stdout), this.#pump(child.stderr)];
    void child.status.then(() => this.#exited = true);
  }

  /** Starts `serve --config` on a free port and resolves once its model has a healthy backend. */
  static async start(options: GatewayStartOptions): Promise<GatewayProcess> {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "serve", "--config", options.configPath, "--port", "0"],
      cwd: ROOT,
      env: { TURNPIKE_STATE_DIR: options.stateDir, NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      // Its own group, so a kill reaches whatever it spawned too.
      detached: true,
    }).spawn();
    const gateway = new GatewayProcess(child, options.label ?? "gateway");
    live.add(gateway);
    try {
      await waitFor(`${gateway.label} to be ready`, () => {
        if (gateway.#exited) throw new Error(`${gateway.label} exited:\n${gateway.output}`);
        return /Ready: /.test(gateway.output);
      }, { timeoutMs: options.readyTimeoutMs ?? 60_000, everyMs: 50 });
    } catch (error) {
      await gateway.kill();
      throw new Error(`${error instanceof Error ? error.message : error}\n${gateway.output}`);
    }
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(gateway.output)?.[1];
    if (!url) throw new Error(`${gateway.label} printed no URL:\n${gateway.output}`);
    gateway.url = url;
    return gateway;
  }

  /** Its process id (and process group id). */
  get pid(): number {
    return this.#child.pid;
  }

  /** Resolves to its exit status once it has exited. */
  get status(): Promise<Deno.CommandStatus> {
    return this.#child.status;
  }

  /** An OpenAI client whose base URL is the session's, so `chat.completions` takes its turns. */
  client(sessionId: string): OpenAI {
    return new OpenAI({
      baseURL: `${this.url}/v1/sessions/${sessionId}`,
      apiKey: "x",
      maxRetries: 0,
      timeout: 30_000,
    });
  }

  /** A JSON request to the gateway: its status, parsed body, and error code if it is an error. */
  async call(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown>; code: string | undefined }> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
    });
    const text = await res.text();
    const json = text === "" ? {} : JSON.parse(text);
    return { status: res.status, body: json, code: json.error?.code };
  }

  /** Creates a session; its id. */
  async createSession(body: Record<string, unknown> = {}): Promise<string> {
    const res = await this.call("POST", "/v1/sessions", {
      model: MODEL,
      system: SYSTEM,
      compression: "none",
      ...body,
    });
    if (res.status !== 201) {
      throw new Error(`Creating a session answered ${res.status}: ${JSON.stringify(res.body)}`);
    }
    return res.body.id as string;
  }

  /** Every turn of the session, oldest first, following the history's pages. */
  async history(id: string, include?: "sent"): Promise<TurnView[]> {
    const turns: TurnView[] = [];
    let after = 0;
    for (;;) {
      const query = `after=${after}&limit=100${include ? `&include=${include}` : ""}`;
      const res = await this.call("GET", `/v1/sessions/${id}/history?${query}`);
      if (res.status !== 200) {
        throw new Error(`History of ${id} answered ${res.status}: ${JSON.stringify(res.body)}`);
      }
      const page = res.body.data as TurnView[];
      turns.push(...page);
      if (!res.body.has_more) return turns;
      after = page[page.length - 1]!.turn;
    }
  }

  /**
   * Sends `signal` (SIGKILL unless told) to its whole process group; resolves once it has exited
   * and its pipes closed.
   */
  async kill(signal: Deno.Signal = "SIGKILL"): Promise<void> {
    if (!this.#exited) {
      try {
        Deno.kill(-this.#child.pid, signal);
      } catch {
        // The group is gone already.
      }
    }
    await this.#child.status;
    await Promise.all(this.#pumps);
    live.delete(this);
  }

  async #pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    try {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        // Keep the tail only: a long run must not grow it without bound.
        this.output = (this.output + text).slice(-20_000);
      }
    } catch {
      // The pipe broke with the process: what was read is kept.
    }
  }
}

/** Gateways started and not killed yet: a test process that exits early still ends them. */
const live = new Set<GatewayProcess>();
globalThis.addEventListener("unload", () => {
  for (const gateway of live) {
    try {
      Deno.kill(-gateway.pid, "SIGKILL");
    } catch {
      // Gone already.
    }
  }
});

/** What a durable-session test gets: replicas, a state dir, and a way to start gateways on it. */
export interface Cluster {
  /** The state dir every gateway of the test shares (so one KV file). */
  stateDir: string;
  /** The simulated replicas. */
  sims: SimServer[];
  /** Starts a gateway with the cluster's config. */
  start(label?: string): Promise<GatewayProcess>;
}

/** Options of {@linkcode withCluster}. */
export interface ClusterOptions {
  /** `sessions:` of the config. */
  sessions?: Record<string, unknown>;
  /** Replicas to run. @default 1 */
  replicas?: number;
  /** Options of each simulated replica. @default { timeScale: 1 } */
  sim?: SimulatorOptions;
}

/**
 * Runs `fn` with simulated replicas and a fresh state dir; afterwards (also on failure) kills the
 * process group of every gateway it started, stops the replicas and removes the dir.
 */
export async function withCluster(
  options: ClusterOptions,
  fn: (cluster: Cluster) => Promise<void>,
): Promise<void> {
  const stateDir = await Deno.makeTempDir({ prefix: "turnpike-sessions-durable-" });
  const sims: SimServer[] = [];
  const mine = new Set<GatewayProcess>();
  try {
    for (let i = 0; i < (options.replicas ?? 1); i++) {
      sims.push(await startSimulator({ timeScale: 1, ...options.sim, model: MODEL, seed: i }));
    }
    const configPath = `${stateDir}/turnpike.json`;
    // YAML reads JSON as it is.
    await Deno.writeTextFile(
      configPath,
      JSON.stringify({
        proxy: { health_check_interval: 0.5, circuit_open_seconds: 0.5 },
        models: [{ name: MODEL, endpoints: sims.map((s) => s.url) }],
        sessions: options.sessions ?? {},
        state_dir: stateDir,
      }),
    );
    await fn({
      stateDir,
      sims,
      async start(label) {
        const gateway = await GatewayProcess.start({
          configPath,
          stateDir,
          ...(label === undefined ? {} : { label }),
        });
        mine.add(gateway);
        return gateway;
      },
    });
  } catch (error) {
    // What the gateways printed is most of what there is to know about a failure.
    for (const gateway of mine) {
      console.error(`--- ${gateway.label} printed:\n${gateway.output.slice(-4_000)}`);
    }
    throw error;
  } finally {
    for (const gateway of mine) await gateway.kill();
    for (const sim of sims) await sim.close();
    await Deno.remove(stateDir, { recursive: true });
  }
}

/** What a streamed turn got: the reply's text, its finish reason, and whether `[DONE]` came. */
export interface StreamedTurn {
  text: string;
  finishReason: string | null;
  /** `data: [DONE]` came: the gateway acknowledged the turn as committed. */
  done: boolean;
  /** An error event came instead. */
  error: unknown;
}

/**
 * Takes a streamed turn with the openai client, reading its raw SSE: the client's own iterator
 * ends quietly on a body cut before `[DONE]`, and a crash test must tell the two apart.
 * `onText` is told of each piece of text as it comes.
 */
export async function streamTurn(
  client: OpenAI,
  body: { messages: { role: "user"; content: string }[]; max_tokens: number },
  onText?: (text: string) => void,
): Promise<StreamedTurn> {
  const response = await client.chat.completions.create({ model: MODEL, ...body, stream: true })
    .asResponse();
  const got: StreamedTurn = { text: "", finishReason: null, done: false, error: undefined };
  const parser = createParser({
    onEvent: ({ data }) => {
      if (data === "[DONE]") {
        got.done = true;
        return;
      }
      const event = JSON.parse(data);
      if (event.error) got.error = event.error;
      const choice = event.choices?.[0];
      if (typeof choice?.finish_reason === "string") got.finishReason = choice.finish_reason;
      const piece = choice?.delta?.content;
      if (typeof piece === "string" && piece !== "") {
        got.text += piece;
        onText?.(piece);
      }
    },
  });
  for await (const text of response.body!.pipeThrough(new TextDecoderStream())) parser.feed(text);
  return got;
}

/** Text of a message's content (a string, or text parts). */
export function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((p) => (typeof p?.text === "string" ? p.text : "")).join("");
  }
  return "";
}

/** Waits `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export { waitFor };

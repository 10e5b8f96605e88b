/**
 * The sessions benchmark's load generator for turn overhead: closed-loop clients that each own a
 * session and, turn by turn, send the new message as a session turn and the same conversation as
 * a plain chat completion carrying the whole history, so both paths build the same prompt.
 */
import { parseArgs } from "node:util";
import { summarize, type Summary } from "../../sim/mod.ts";
import { createRetries, createSession } from "./http.ts";
import { chatText, userText } from "./text.ts";

/** Latencies of one path, in ms. */
export interface PathResult {
  requests: number;
  errors: number;
  latencyMs: Summary;
}

/** What one run measured. */
export interface TurnLoadResult {
  session: PathResult;
  plain: PathResult;
  /** Sessions the clients created (outside the measured requests). */
  sessions: number;
  /** Creates answered 503 `session_store_busy` and tried again. */
  createRetries: number;
  /** The first error answer seen, to tell a broken setup from noise. */
  firstError?: string;
}

/** Settings of {@linkcode runTurnLoad}. */
export interface TurnLoadOptions {
  /** Closed-loop clients, one session each at a time. */
  concurrency: number;
  durationS: number;
  warmupS: number;
  /** Ask for SSE answers on both paths. */
  stream: boolean;
  /** Turns of a session before its client starts a new one, to bound prompt sizes. */
  turnsPerSession: number;
  /** Characters of each user message. */
  userChars: number;
  model: string;
  /**
   * Mean pause of a client after each turn, in ms (uniform from half to one and a half of it),
   * as an agent's own work between turns; 0 keeps every client always waiting on the gateway.
   */
  thinkMs: number;
}

type Message = { role: "system" | "user" | "assistant"; content: string };

const SYSTEM = "You are a coding agent. Answer briefly.";

/** Reads a whole answer and returns its body text; the clock stops when the last byte is in. */
async function post(url: string, body: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

/** Runs the clients against gateway `base` and returns the figures of both paths. */
export async function runTurnLoad(base: string, options: TurnLoadOptions): Promise<TurnLoadResult> {
  const samples = { session: [] as number[], plain: [] as number[] };
  const errors = { session: 0, plain: 0 };
  let firstError: string | undefined;
  let sessions = 0;
  const start = performance.now();
  const measureFrom = start + options.warmupS * 1000;
  const end = measureFrom + options.durationS * 1000;
  const extra = { max_tokens: 10, stream: options.stream };

  async function timed(
    path: "session" | "plain",
    url: string,
    body: unknown,
  ): Promise<string | undefined> {
    const t0 = performance.now();
    let answer: { status: number; text: string } | undefined;
    try {
      answer = await post(url, body);
    } catch (error) {
      firstError ??= `${path}: ${(error as Error).message}`;
    }
    const t1 = performance.now();
    const ok = answer?.status === 200;
    if (!ok && answer) firstError ??= `${path}: HTTP ${answer.status} ${answer.text.slice(0, 300)}`;
    if (t0 >= measureFrom && t1 <= end) {
      if (ok) samples[path].push(t1 - t0);
      else errors[path]++;
    }
    return ok ? answer!.text : undefined;
  }

  async function client(index: number): Promise<void> {
    while (performance.now() < end) {
      const id = await createSession(base, { model: options.model, system: SYSTEM });
      sessions++;
      const history: Message[] = [{ role: "system", content: SYSTEM }];
      for (let turn = 0; turn < options.turnsPerSession && performance.now() < end; turn++) {
        const user: Message = { role: "user", content: userText(index, turn, options.userChars) };
        const sessionCall = () =>
          timed("session", `${base}/v1/sessions/${id}/chat`, { messages: [user], ...extra });
        const plainCall = () =>
          timed("plain", `${base}/v1/chat/completions`, {
            model: options.model,
            messages: [...history, user],
            ...extra,
          });
        // Which path goes first alternates, so neither always follows the other's work.
        let reply: string | undefined;
        if ((index + turn) % 2 === 0) {
          reply = await sessionCall();
          await plainCall();
        } else {
          await plainCall();
          reply = await sessionCall();
        }
        if (reply === undefined) break;
        history.push(user, { role: "assistant", content: chatText(reply, options.stream) });
        if (options.thinkMs > 0) {
          const pauseMs = options.thinkMs * (0.5 + Math.random());
          await new Promise((resolve) => setTimeout(resolve, pauseMs));
        }
      }
    }
  }

  await Promise.all(Array.from({ length: options.concurrency }, (_, i) => client(i)));
  const result = (path: "session" | "plain"): PathResult => ({
    requests: samples[path].length,
    errors: errors[path],
    latencyMs: summarize(samples[path]),
  });
  return {
    session: result("session"),
    plain: result("plain"),
    sessions,
    createRetries: createRetries.count,
    ...(firstError === undefined ? {} : { firstError }),
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      url: { type: "string" },
      concurrency: { type: "string", default: "64" },
      duration: { type: "string", default: "5" },
      warmup: { type: "string", default: "1" },
      stream: { type: "boolean", default: false },
      "turns-per-session": { type: "string", default: "16" },
      "user-chars": { type: "string", default: "400" },
      model: { type: "string", default: "bench" },
      think: { type: "string", default: "0" },
    },
  });
  if (!values.url) throw new Error("Pass --url with the gateway's base URL");
  const result = await runTurnLoad(values.url, {
    concurrency: Number(values.concurrency),
    durationS: Number(values.duration),
    warmupS: Number(values.warmup),
    stream: values.stream ?? false,
    turnsPerSession: Number(values["turns-per-session"]),
    userChars: Number(values["user-chars"]),
    model: values.model!,
    thinkMs: Number(values.think),
  });
  console.log(JSON.stringify(result));
}

/**
 * Target 3 of `bench sessions`: a long agent session with tool calls against a simulated replica,
 * once per compaction policy, reading the replica's prefix-cache counters and the time to first
 * token the agent sees.
 */
import { join } from "node:path";
import { ConfigSchema } from "../../config/mod.ts";
import { startGateway } from "../../gateway/mod.ts";
import { startSimulator, summarize, type Summary } from "../../sim/mod.ts";
import { parseCounters, type ReplicaCounters } from "../routing/measure.ts";
import type { ChatMessage } from "../../actors/session/mod.ts";
import { loadTokenCounter } from "../../actors/session/compression/mod.ts";
import { createSession } from "./http.ts";
import { type AnswerMessage, answerMessage, sseEvents, toolOutput, userText } from "./text.ts";
import { trimWindow } from "./window.ts";
import { hitRate } from "./verdicts.ts";

const MODEL = "llama-3.1-8b-sim";
const SYSTEM = [
  "You are a coding agent working in a large repository. Use the tools to read files, search",
  "and run the tests; keep answers short and cite the files you changed.",
].join(" ");

const TOOLS = [
  {
    type: "function",
    function: {
      name: "read_file",
      description: "Read a file of the repository",
      parameters: {
        type: "object",
        properties: { path: { type: "string" } },
        required: ["path"],
      },
    },
  },
  {
    type: "function",
    function: {
      name: "run_tests",
      description: "Run the tests of a package and return their log",
      parameters: {
        type: "object",
        properties: { target: { type: "string" } },
        required: ["target"],
      },
    },
  },
  {
    type: "function",
    function: {
      name: "grep",
      description: "Search the repository for a pattern",
      parameters: {
        type: "object",
        properties: { pattern: { type: "string" } },
        required: ["pattern"],
      },
    },
  },
];

/**
 * How the context is kept within budget: by the session's compaction at a threshold (the
 * `sliding_window` method), or by the client trimming a window on every plain call.
 */
export type AgentPolicy =
  | { kind: "session"; label: string; threshold: number; target: number }
  | {
    kind: "client_window";
    label: string;
    /** The window, a fraction of the budget. */
    windowFraction: number;
    /** Once the window is full, leave out at least one more message on every call. */
    everyCall: boolean;
  };

/** Settings of {@linkcode runAgentSession}. */
export interface AgentOptions {
  /** Chat calls of the session (a user message or a round of tool results each). */
  turns: number;
  budgetTokens: number;
  keepRecentTurns: number;
  /** Characters of each tool result. */
  toolChars: number;
  /** Characters of each user message. */
  userChars: number;
  maxTokens: number;
  /** Simulated ms per real ms of the replica. */
  timeScale: number;
}

/** What one session measured. */
export interface AgentRun {
  label: string;
  policy: AgentPolicy;
  turns: number;
  errors: number;
  toolCalls: number;
  /** Compactions of the session, or calls whose window dropped more of the history than the last. */
  compactions: number;
  /** Replica prefix-cache hits over queries (`vllm:prefix_cache_*_total`), 0 to 1. */
  hitRate: number;
  /** `cached_tokens` over `prompt_tokens` of the turns' usage, 0 to 1: the same from the answers. */
  cachedShare: number;
  promptTokens: Summary;
  /** Time to the first generated delta as the agent sees it, in simulated ms (real × time scale). */
  ttftMs: Summary;
  /** Mean TTFT the replica itself reports, in simulated ms. */
  replicaTtftMeanMs: number;
}

async function scrape(url: string): Promise<ReplicaCounters> {
  const res = await fetch(`${url}/metrics`);
  if (!res.ok) throw new Error(`Cannot scrape ${url}/metrics: HTTP ${res.status}`);
  return parseCounters(await res.text());
}

function cacheOf(counters: ReplicaCounters) {
  return {
    queries: counters["vllm:prefix_cache_queries_total"] ?? 0,
    hits: counters["vllm:prefix_cache_hits_total"] ?? 0,
  };
}

type Usage = { prompt_tokens?: number; prompt_tokens_details?: { cached_tokens?: number } };

/** One streamed turn: its body, and the real ms to its first generated delta. */
async function streamTurn(url: string, body: unknown): Promise<{ text: string; ttftMs: number }> {
  const t0 = performance.now();
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`A turn failed: HTTP ${res.status} ${await res.text()}`);
  const decoder = new TextDecoder();
  let text = "";
  let ttftMs = NaN;
  for await (const chunk of res.body!) {
    text += decoder.decode(chunk, { stream: true });
    if (Number.isNaN(ttftMs) && /"(content|tool_calls)":\s*("[^"]|\[)/.test(text)) {
      ttftMs = performance.now() - t0;
    }
  }
  return { text, ttftMs };
}

/** One conversation: how a turn is sent, what is kept of its answer, and its compactions. */
interface Chat {
  send(messages: ChatMessage[]): Promise<{ text: string; ttftMs: number }>;
  answered(message: AnswerMessage): void;
  compactions(): Promise<number>;
}

async function chatOf(policy: AgentPolicy, options: AgentOptions, base: string): Promise<Chat> {
  const params = {
    tools: TOOLS,
    tool_choice: "auto",
    max_tokens: options.maxTokens,
    stream: true,
  };
  if (policy.kind === "session") {
    const id = await createSession(base, {
      model: MODEL,
      system: SYSTEM,
      compression: {
        method: "sliding_window",
        budget_tokens: options.budgetTokens,
        threshold: policy.threshold,
        target: policy.target,
        keep_recent_turns: options.keepRecentTurns,
      },
    });
    return {
      send: (messages) => streamTurn(`${base}/v1/sessions/${id}/chat`, { messages, ...params }),
      answered() {},
      async compactions() {
        const res = await fetch(`${base}/v1/sessions/${id}`);
        return (await res.json() as { usage: { compactions: number } }).usage.compactions;
      },
    };
  }
  // The client keeps the whole conversation and sends the newest part that fits, every call.
  const counter = await loadTokenCounter();
  const system: ChatMessage[] = [{ role: "system", content: SYSTEM }];
  const history: ChatMessage[] = [];
  const windowTokens = Math.floor(policy.windowFraction * options.budgetTokens);
  let dropped = 0;
  let trims = 0;
  return {
    send(messages) {
      history.push(...messages);
      const window = trimWindow(system, history, windowTokens, {
        countMessage: (m) => counter.countMessage(m),
        minDropped: policy.everyCall && trims > 0 ? dropped + 1 : 0,
      });
      if (window.dropped > dropped) trims++;
      dropped = window.dropped;
      return streamTurn(`${base}/v1/chat/completions`, {
        model: MODEL,
        messages: window.messages,
        ...params,
        stream_options: { include_usage: true },
      });
    },
    answered(message) {
      history.push(
        message.toolCalls.length > 0
          ? {
            role: "assistant",
            content: message.content || null,
            tool_calls: message.toolCalls.map((c) => ({ ...c, function: { ...c.function } })),
          }
          : { role: "assistant", content: message.content },
      );
    },
    compactions: () => Promise.resolve(trims),
  };
}

/** Runs one agent session on a fresh replica and gateway, under `policy`. */
export async function runAgentSession(
  policy: AgentPolicy,
  options: AgentOptions,
): Promise<AgentRun> {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-bench-sessions-agent-" });
  const sim = await startSimulator({ port: 0, timeScale: options.timeScale, seed: 1 });
  const gateway = await startGateway(
    ConfigSchema.parse({
      proxy: { health_check_interval: 30, metrics_scrape_interval: 1 },
      models: [{ name: MODEL, endpoints: [sim.url] }],
      sessions: { idle_passivate: 600 },
      state_dir: join(dir, "state"),
    }),
    { port: 0, hostname: "127.0.0.1" },
  );
  try {
    const chat = await chatOf(policy, options, gateway.url);
    const before = await scrape(sim.url);
    const ttfts: number[] = [];
    const prompts: number[] = [];
    let cached = 0;
    let prompted = 0;
    let errors = 0;
    let toolCalls = 0;
    let pending: { id: string }[] = [];
    for (let turn = 0; turn < options.turns; turn++) {
      const messages: ChatMessage[] = pending.length > 0
        ? pending.map((call, i) => ({
          role: "tool",
          tool_call_id: call.id,
          content: toolOutput(turn * 4 + i, options.toolChars),
        }))
        : [{ role: "user", content: userText(0, turn, options.userChars) }];
      let answer: { text: string; ttftMs: number };
      try {
        answer = await chat.send(messages);
      } catch (error) {
        errors++;
        console.error(`agent ${policy.label} turn ${turn}: ${(error as Error).message}`);
        pending = [];
        continue;
      }
      ttfts.push(answer.ttftMs * options.timeScale);
      const message = answerMessage(answer.text, true);
      chat.answered(message);
      pending = message.toolCalls;
      toolCalls += pending.length;
      for (const data of sseEvents(answer.text)) {
        const usage = (JSON.parse(data) as { usage?: Usage | null }).usage;
        if (!usage?.prompt_tokens) continue;
        prompts.push(usage.prompt_tokens);
        prompted += usage.prompt_tokens;
        cached += usage.prompt_tokens_details?.cached_tokens ?? 0;
      }
    }
    const after = await scrape(sim.url);
    const ttftCount = (after["vllm:time_to_first_token_seconds_count"] ?? 0) -
      (before["vllm:time_to_first_token_seconds_count"] ?? 0);
    const ttftSumS = (after["vllm:time_to_first_token_seconds_sum"] ?? 0) -
      (before["vllm:time_to_first_token_seconds_sum"] ?? 0);
    return {
      label: policy.label,
      policy,
      turns: options.turns,
      errors,
      toolCalls,
      compactions: await chat.compactions(),
      hitRate: hitRate(cacheOf(before), cacheOf(after)),
      cachedShare: prompted > 0 ? cached / prompted : NaN,
      promptTokens: summarize(prompts),
      ttftMs: summarize(ttfts),
      // The replica reports its histograms in real seconds; times the scale, simulated ms again.
      replicaTtftMeanMs: ttftCount > 0 ? ttftSumS / ttftCount * 1000 * options.timeScale : NaN,
    };
  } finally {
    await gateway.close({ deadlineMs: 2_000 });
    await sim.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * A runnable multi-turn agent loop through turnpike: one SessionContext per conversation, the
 * official OpenAI client, streamed answers, and the agent's own tool time reported back.
 *
 * Run it against `deno task serve`: `deno run -A client/example_agent.ts --turns 3`.
 */
import { parseArgs } from "node:util";
import OpenAI from "openai";
import { SessionContext } from "./session_context.ts";

/** Options of {@linkcode runAgent}. */
export interface AgentOptions {
  /** The gateway's OpenAI base URL. @default "http://127.0.0.1:5800/v1" */
  baseURL?: string;
  /** The model to call. @default "llama-3.1-8b-sim" */
  model?: string;
  /** Turns to run. @default 3 */
  turns?: number;
  /** Tokens per answer. @default 32 */
  maxTokens?: number;
  /** The conversation's identity; a fresh one when absent. */
  context?: SessionContext;
  /** Called with each turn's answer. */
  onTurn?: (turn: number, answer: string) => void;
}

/** What {@linkcode runAgent} returns. */
export interface AgentRun {
  sessionId: string;
  answers: string[];
}

/** Pretends to run a tool on the model's answer; returns its output. */
async function runTool(answer: string): Promise<string> {
  await new Promise((resolve) => setTimeout(resolve, 20));
  return `tool saw ${answer.split(/\s+/).filter(Boolean).length} words`;
}

/** Runs a small agent loop: ask, stream the answer, run a tool, feed its output back, repeat. */
export async function runAgent(options: AgentOptions = {}): Promise<AgentRun> {
  const ctx = options.context ??
    new SessionContext({ taskId: "example-task", clientId: "example-agent" });
  const client = new OpenAI({
    baseURL: options.baseURL ?? "http://127.0.0.1:5800/v1",
    apiKey: Deno.env.get("OPENAI_API_KEY") ?? "unused",
    defaultHeaders: ctx.headers(),
  });
  const model = options.model ?? "llama-3.1-8b-sim";
  const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [
    {
      role: "system",
      content: "You are a careful coding agent. Use the tool output to decide your next step.",
    },
    { role: "user", content: "Find why the test suite is flaky and propose a fix." },
  ];
  const answers: string[] = [];
  let postStart = performance.now();
  for (let turn = 1; turn <= (options.turns ?? 3); turn++) {
    const stream = await client.chat.completions.create({
      model,
      messages,
      max_tokens: options.maxTokens ?? 32,
      stream: true,
    });
    let answer = "";
    for await (const chunk of stream) answer += chunk.choices[0]?.delta.content ?? "";
    const postMs = performance.now() - postStart;
    answers.push(answer);
    options.onTurn?.(turn, answer);
    const toolStart = performance.now();
    const toolOutput = await runTool(answer);
    messages.push({ role: "assistant", content: answer }, {
      role: "user",
      content: `Tool output: ${toolOutput}`,
    });
    // The next call reports the time this agent spent on its own side of the turn.
    ctx.setTiming({ preMs: performance.now() - toolStart, postMs });
    postStart = performance.now();
  }
  return { sessionId: ctx.sessionId, answers };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      "base-url": { type: "string" },
      model: { type: "string" },
      turns: { type: "string" },
    },
  });
  const run = await runAgent({
    ...(values["base-url"] ? { baseURL: values["base-url"] } : {}),
    ...(values.model ? { model: values.model } : {}),
    ...(values.turns ? { turns: Number(values.turns) } : {}),
    onTurn: (turn, answer) => console.log(`turn ${turn}: ${answer}`),
  });
  console.log(`session ${run.sessionId}: ${run.answers.length} turns`);
}

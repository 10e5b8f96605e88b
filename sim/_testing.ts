/** Helpers shared by the simulator's HTTP tests. */
import OpenAI from "openai";
import {
  DEFAULT_SIM_MODEL,
  type SimServer,
  type SimulatorOptions,
  startSimulator,
} from "./server.ts";

/** The model a simulator serves unless told otherwise. */
export const MODEL = DEFAULT_SIM_MODEL;

/** An official OpenAI client for a simulator at `url`, without retries. */
function clientFor(url: string): OpenAI {
  return new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0, timeout: 60_000 });
}

/** Two tools an agent might offer. */
export const TOOLS: OpenAI.ChatCompletionFunctionTool[] = [
  {
    type: "function",
    function: {
      name: "read_file",
      description: "Reads a file",
      parameters: {
        type: "object",
        properties: { path: { type: "string" }, lines: { type: "integer" } },
        required: ["path"],
      },
    },
  },
  {
    type: "function",
    function: {
      name: "get_weather",
      parameters: {
        type: "object",
        properties: {
          city: { type: "string" },
          unit: { type: "string", enum: ["celsius", "fahrenheit"] },
        },
        required: ["city", "unit"],
      },
    },
  },
];

export { waitFor } from "../actors/runtime/testdata/wait.ts";

/**
 * Runs `body` against a fresh simulator started with `options` and an OpenAI client for it, and
 * closes the simulator however `body` ends.
 */
export async function withSim(
  options: SimulatorOptions,
  body: (sim: SimServer, client: OpenAI) => Promise<void>,
): Promise<void> {
  const sim = await startSimulator(options);
  try {
    await body(sim, clientFor(sim.url));
  } finally {
    await sim.close();
  }
}

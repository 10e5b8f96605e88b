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

/**
 * Polls `condition` every 10 ms until it holds; throws after `timeoutMs`. The deadline is generous
 * because a loaded machine can stall a test for seconds, and it only bounds a test that fails.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`Timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

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

/** Placeholder until its owner lands it. */
import type { BenchSuite } from "./command.ts";

/** `deno task bench sim`. */
export const simBench: BenchSuite = {
  name: "sim",
  summary: "(being built)",
  usage: "Usage: deno task bench sim",
  run() {
    return Promise.resolve(2);
  },
};

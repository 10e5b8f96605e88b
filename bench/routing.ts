/** Placeholder until its owner lands it. */
import type { BenchSuite } from "./command.ts";

/** `deno task bench routing`. */
export const routingBench: BenchSuite = {
  name: "routing",
  summary: "(being built)",
  usage: "Usage: deno task bench routing",
  run() {
    return Promise.resolve(2);
  },
};

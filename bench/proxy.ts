/** Placeholder until its owner lands it. */
import type { BenchSuite } from "./command.ts";

/** `deno task bench proxy`. */
export const proxyBench: BenchSuite = {
  name: "proxy",
  summary: "(being built)",
  usage: "Usage: deno task bench proxy",
  run() {
    return Promise.resolve(2);
  },
};

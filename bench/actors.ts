/** Placeholder until its owner lands it. */
import type { BenchSuite } from "./command.ts";

/** `deno task bench actors`. */
export const actorsBench: BenchSuite = {
  name: "actors",
  summary: "(being built)",
  usage: "Usage: deno task bench actors",
  run() {
    return Promise.resolve(2);
  },
};

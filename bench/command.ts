/** `main.ts bench <suite>`: runs one benchmark suite, prints a table and writes JSON under bench/results/. */
import { type Command, UsageError } from "../config/mod.ts";
import { actorsBench } from "./actors.ts";
import { simBench } from "./sim.ts";
import { proxyBench } from "./proxy.ts";
import { routingBench } from "./routing.ts";
import { sessionsBench } from "./sessions.ts";
import { soakBench } from "./soak.ts";
import { overloadBench } from "./overload.ts";

/** One benchmark suite. */
export interface BenchSuite {
  name: string;
  summary: string;
  usage: string;
  run(args: string[]): Promise<number>;
}

const suites: readonly BenchSuite[] = [
  actorsBench,
  simBench,
  proxyBench,
  routingBench,
  sessionsBench,
  soakBench,
  overloadBench,
];

const usage = [
  "Usage: deno task bench <suite> [options]",
  "",
  "Suites:",
  ...suites.map((s) => `  ${s.name.padEnd(8)}  ${s.summary}`),
  "",
  "Results are printed and written as JSON under bench/results/.",
  "Run `deno task bench <suite> --help` for a suite's options.",
].join("\n");

/** The `bench` subcommand. */
export const benchCommand: Command = {
  name: "bench",
  summary: "run a benchmark suite (actors, sim, proxy, routing, sessions)",
  usage,
  handlesHelp: true,
  run(args) {
    const [name, ...rest] = args;
    if (name === "--help" || name === "-h") {
      console.log(usage);
      return Promise.resolve(0);
    }
    const suite = suites.find((s) => s.name === name);
    if (!suite) {
      throw new UsageError(
        name === undefined ? "Missing benchmark suite" : `Unknown benchmark suite "${name}"`,
        usage,
      );
    }
    if (rest.includes("--help") || rest.includes("-h")) {
      console.log(suite.usage);
      return Promise.resolve(0);
    }
    return suite.run(rest);
  },
};

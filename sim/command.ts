/** Placeholder until its owner lands it. */
import type { Command } from "../config/cli.ts";

/** The `sim` subcommand. */
export const simCommand: Command = {
  name: "sim",
  summary: "(being built)",
  usage: "Usage: main.ts sim",
  run() {
    return Promise.resolve(2);
  },
};

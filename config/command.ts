/** Placeholder until its owner lands it. */
import type { Command } from "../config/cli.ts";

/** The `config` subcommand. */
export const configCommand: Command = {
  name: "config",
  summary: "(being built)",
  usage: "Usage: main.ts config",
  run() {
    return Promise.resolve(2);
  },
};

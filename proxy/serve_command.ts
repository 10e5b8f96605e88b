/** Placeholder until its owner lands it. */
import type { Command } from "../config/cli.ts";

/** The `serve` subcommand. */
export const serveCommand: Command = {
  name: "serve",
  summary: "(being built)",
  usage: "Usage: main.ts serve",
  run() {
    return Promise.resolve(2);
  },
};

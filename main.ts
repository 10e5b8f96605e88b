/** Turnpike's command-line entry: parses the subcommand and hands the rest to its module. */
import { type Command, UsageError } from "./config/mod.ts";
import { configCommand } from "./config/mod.ts";
import { ConfigError } from "./config/mod.ts";
import { serveCommand } from "./gateway/mod.ts";
import { simCommand } from "./sim/mod.ts";
import { benchCommand } from "./bench/mod.ts";
import { keysCommand } from "./proxy/auth/keys_command.ts";
import { jobsCommand } from "./cluster/jobs/command.ts";
import { dashCommand } from "./dash/command.ts";
import { logger } from "./actors/runtime/mod.ts";

/** Every subcommand, in the order `--help` lists them. */
export const commands: readonly Command[] = [
  serveCommand,
  simCommand,
  benchCommand,
  configCommand,
  keysCommand,
  jobsCommand,
  dashCommand,
];

function topUsage(all: readonly Command[]): string {
  const width = Math.max(...all.map((c) => c.name.length));
  const lines = all.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    "Usage: deno run -A main.ts <command> [options]",
    "",
    "Commands:",
    ...lines,
    "",
    "Run `main.ts <command> --help` for a command's options.",
  ].join("\n");
}

/** Runs the CLI with `args` and resolves to the exit code. */
export async function main(args: string[], all: readonly Command[] = commands): Promise<number> {
  const [name, ...rest] = args;
  const usage = topUsage(all);
  if (name === undefined) {
    console.error(usage);
    return 2;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    console.log(usage);
    return 0;
  }
  const command = all.find((c) => c.name === name);
  if (!command) {
    console.error(`Unknown command "${name}"\n\n${usage}`);
    return 2;
  }
  if (!command.handlesHelp && (rest.includes("--help") || rest.includes("-h"))) {
    console.log(command.usage);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${error.message}\n\n${error.usage}`);
      return 2;
    }
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
}

if (import.meta.main) {
  const code = await main(Deno.args);
  // Log lines are written asynchronously: the last ones (a stop's) go out before the exit.
  await logger.flush();
  Deno.exit(code);
}

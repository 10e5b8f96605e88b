/** `main.ts config check FILE`: validates a config and prints it normalised, or every problem in it. */
import { stringify } from "yaml";
import { type Command, CONFIG_FLAG_USAGE, configFromFlags, parseFlags, UsageError } from "./cli.ts";

const usage = [
  "Usage: deno run -A main.ts config check [FILE] [options]",
  "",
  "Checks a turnpike config file. When it is valid, prints it normalised (every default filled",
  "in, TURNPIKE_PORT and TURNPIKE_STATE_DIR applied) as YAML and exits 0; otherwise prints every",
  "problem, each with its YAML path, and exits 2. Without FILE it checks the built-in default.",
  "",
  "Options:",
  CONFIG_FLAG_USAGE,
  "                  (the same as giving FILE)",
  "  -h, --help      show this help",
  "",
  "See config/example.yaml for a commented example.",
].join("\n");

/** The `config` subcommand. */
export const configCommand: Command = {
  name: "config",
  summary: "check a config file and print it normalised",
  usage,
  async run(args) {
    const { values, positionals } = parseFlags(args, {}, usage, true);
    const [action, file, ...extra] = positionals;
    if (action !== "check") {
      throw new UsageError(
        action === undefined ? "Missing action" : `Unknown action "${action}"`,
        usage,
      );
    }
    if (extra.length > 0) throw new UsageError(`Unexpected argument "${extra[0]}"`, usage);
    if (file !== undefined && values.config !== undefined) {
      throw new UsageError("Give the file either as FILE or as --config, not both", usage);
    }
    const config = await configFromFlags({ config: file ?? values.config });
    const source = file ?? values.config;
    console.log(
      `# ${source === undefined ? "Built-in default config" : `"${source}"`} is valid. ` +
        "Normalised: defaults filled in, environment overrides applied.",
    );
    console.log(stringify(config, { lineWidth: 0 }).trimEnd());
    return 0;
  },
};

/** `deno task serve [--config FILE]`: runs the gateway, with two simulated replicas when no config is given. */
import { type Command, numberFlag, parseFlags, UsageError } from "../config/mod.ts";
import { installShutdownHandlers } from "../actors/runtime/mod.ts";
import { loadConfig } from "../config/mod.ts";
import { type Config, ConfigSchema } from "../config/mod.ts";
import { type GatewayOptions, startGateway } from "./gateway.ts";
import { authSummary, exposureOf } from "../proxy/auth/exposure.ts";
import { AuthSetupError } from "../proxy/auth/jwt.ts";
import { SshConnectError, SshHostKeyError } from "../cluster/ssh/mod.ts";

/** The model the embedded default serves; the simulator is told its name by `--model`. */
export const EMBEDDED_MODEL = "llama-3.1-8b-sim";

const usage = [
  "Usage: deno task serve [--config FILE] [options]",
  "",
  "Runs the OpenAI-compatible gateway. Without --config it runs the embedded default: two",
  `simulated replicas of "${EMBEDDED_MODEL}" (deno task sim) as supervised child processes`,
  "and a KV file under .turnpike/.",
  "",
  "Options:",
  "  --config FILE   YAML config (proxy, cluster, models, headers)",
  "  --port P        port to listen on, instead of proxy.port or TURNPIKE_PORT (0 = any free port)",
  "  --host H        interface to listen on, instead of proxy.host",
  "  --insecure      listen on a non-loopback interface with auth off (refused without it)",
  "",
  "Environment: TURNPIKE_PORT overrides proxy.port, TURNPIKE_STATE_DIR overrides state_dir.",
].join("\n");

const MAIN_TS = new URL("../main.ts", import.meta.url).pathname;

/**
 * The embedded default: `config` (the built-in defaults and environment overrides) plus two
 * simulated replicas launched locally.
 */
export function embeddedDefault(config: Config): Config {
  return ConfigSchema.parse({
    ...config,
    cluster: { type: "local" },
    models: [{
      name: EMBEDDED_MODEL,
      replicas: 2,
      command: `deno run -A ${MAIN_TS} sim --port {port} --model {name}`,
      startup_timeout: 60,
    }],
  });
}

/** The `serve` subcommand. */
export const serveCommand: Command = {
  name: "serve",
  summary: "run the OpenAI-compatible gateway (two simulated replicas without --config)",
  usage,
  async run(args) {
    const { values } = parseFlags(args, {
      config: { type: "string" },
      port: { type: "string" },
      host: { type: "string" },
      insecure: { type: "boolean" },
    }, usage);
    const port = numberFlag(values.port, "port", usage);
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
      throw new UsageError(`--port expects an integer from 0 to 65535, got ${port}`, usage);
    }
    const loaded = await loadConfig(values.config);
    const embedded = values.config === undefined;
    const config = embedded ? embeddedDefault(loaded) : loaded;
    const exposure = exposureOf({
      authEnabled: config.auth.enabled,
      host: values.host ?? config.proxy.host,
      insecure: values.insecure === true,
    });
    if (!exposure.ok) {
      console.error(exposure.message);
      return 2;
    }
    const options: GatewayOptions = {
      ...(port === undefined ? {} : { port }),
      ...(values.host === undefined ? {} : { hostname: values.host }),
      // The embedded replicas take free ports, so a second `serve` or a busy 5900 never clashes.
      ...(embedded ? { replicaPorts: { [EMBEDDED_MODEL]: [0, 0] } } : {}),
    };
    const gateway = await startGateway(config, options).catch((error) => {
      if (error instanceof AuthSetupError) return error;
      // cluster.slurm.ssh: the login node refused us (host key, login) or could not be reached.
      if (error instanceof SshHostKeyError || error instanceof SshConnectError) return error;
      throw error;
    });
    if (gateway instanceof AuthSetupError) {
      console.error(`Cannot start the gateway: ${gateway.message}`);
      return 2;
    }
    if (gateway instanceof SshHostKeyError || gateway instanceof SshConnectError) {
      console.error(`Cannot start the gateway: cluster.slurm.ssh: ${gateway.message}`);
      return 1;
    }
    console.log(exposure.notice ?? authSummary(gateway.auth));
    const model = config.models[0]?.name ?? "MODEL";
    console.log(
      `Turnpike gateway listening on ${gateway.url} (strategy: ${
        JSON.stringify(config.proxy.strategy)
      })`,
    );
    console.log(
      `Models: ${
        config.models.map((m) => m.name).join(", ") ||
        "(none yet: POST /api/backends to register one)"
      }`,
    );
    console.log(
      `Try: curl -s ${gateway.url}/v1/chat/completions -H 'content-type: application/json' ` +
        `-d '{"model":"${model}","messages":[{"role":"user","content":"Hello"}]}'`,
    );
    const ready = new AbortController();
    const handlers = installShutdownHandlers({ shutdown: (o) => gateway.close(o) }, {
      deadlineMs: config.proxy.drain_timeout * 1000,
      exit: false,
      stopIntake: () => ready.abort(),
    });
    waitReady(gateway, config, ready.signal);
    return await handlers.stopped;
  },
};

/** Prints a line as each configured model gets its first healthy backend (until all have, or their startup time is up). */
async function waitReady(
  gateway: { fleet: { models(): { name: string; healthy: number }[] } },
  config: Config,
  stopped: AbortSignal,
): Promise<void> {
  const waiting = new Set(config.models.map((m) => m.name));
  if (waiting.size === 0) return;
  const deadline = Date.now() + Math.max(...config.models.map((m) => m.startup_timeout)) * 1000;
  while (waiting.size > 0 && Date.now() < deadline && !stopped.aborted) {
    for (const model of gateway.fleet.models()) {
      if (waiting.has(model.name) && model.healthy > 0) {
        waiting.delete(model.name);
        console.log(
          `Ready: ${model.name} (${model.healthy} healthy backend${
            model.healthy === 1 ? "" : "s"
          })`,
        );
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
